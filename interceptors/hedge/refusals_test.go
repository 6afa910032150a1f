package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// refusing is a retry budget that refuses every Withdraw, and counts them.
type refusing struct{ asked atomic.Int32 }

func (b *refusing) Withdraw() bool {
	b.asked.Add(1)
	return false
}

// slowFirst is a script whose attempt 1 answers once release is closed and whose hedges wait
// for their cancellation.
func slowFirst(release chan struct{}) *scripted {
	return newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(ctx context.Context) (metadata.MD, error) {
			select {
			case <-release:
				return nil, nil
			case <-ctx.Done():
				return nil, status.FromContextError(ctx.Err()).Err()
			}
		},
		2: func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
	})
}

// A hedge the retry budget refuses is not sent, and takes nothing from the method's allowance
// of losing hedges: after a stretch of an empty budget the allowance is whole.
func TestBudgetRefusalKeepsTheAllowance(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	b := &refusing{}
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithBudget(b))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(10) {
		release := make(chan struct{})
		s := slowFirst(release)
		done := make(chan error, 1)
		go func() {
			done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
		}()
		s.waitFor(t, 1)
		clk.BlockUntil(1)
		clk.Advance(d) // the hedge is due; the budget refuses it
		eventually(t, func() bool { return b.asked.Load() == i+1 })
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("call: %v", err)
		}
		if got := s.total(); got != 1 {
			t.Fatalf("%d attempts sent with the budget refusing hedges, want 1", got)
		}
	}
	if got := p.method(compare).hedges.milli.Load(); got != burstMilli {
		t.Fatalf("allowance after 10 refused hedges: %d milli-hedges, want the whole %d", got, burstMilli)
	}
}

// A hedge refused by a policy below it (here a bulkhead whose one slot attempt 1 holds) never
// reached the service: it does not end the call, and attempt 1's answer is the caller's.
func TestLocallyRefusedHedgeLeavesTheCallLive(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	rec := &testkit.Recorder{}
	p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk), WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	bh, err := bulkhead.New("kyc.v1.FaceMatchService", bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	s := slowFirst(release)
	down := bh.Unary()
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return down(ctx, method, req, reply, cc, s.invoke, opts...)
	}
	done := make(chan error, 1)
	go func() {
		done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
	}()
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(d) // the hedge goes, and the bulkhead refuses it at once
	eventually(t, func() bool { return len(rec.Events(observe.AttemptFinished)) == 1 })
	if clk.Timers() != 0 {
		t.Fatal("a third attempt is still due after a hedge was refused locally")
	}
	close(release) // attempt 1 answers
	if err := <-done; err != nil {
		t.Fatalf("call: %v; want attempt 1's success (the hedge was only refused locally)", err)
	}
	if got := s.total(); got != 1 {
		t.Fatalf("%d attempts reached the service, want 1", got)
	}
}

// A slot a recorder took but has not written yet is no latency sample of 0 ms, which would pull
// the median, and the delay, down to MinDelay: the recomputation waits for the sample.
func TestUnwrittenSlotIsNoSample(t *testing.T) {
	p, err := New(Config{}) // adaptive: p95, 3× the median, 100ms until known, at least 1ms
	if err != nil {
		t.Fatal(err)
	}
	e := p.method(compare).est
	n := e.count.Add(1) // recorder A: slot 0 taken, not written yet
	written := make(chan struct{})
	go func() {
		defer close(written)
		time.Sleep(10 * time.Millisecond) // while B recomputes
		e.ring[(n-1)%uint64(len(e.ring))].Store(int64(20*time.Millisecond) + 1)
	}()
	e.record(20 * time.Millisecond) // recorder B: slot 1, and the recomputation
	<-written
	if got := e.current(); got < 20*time.Millisecond {
		t.Fatalf("delay %v after answers of 20ms, want at least 20ms", got)
	}
}
