package hedge

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

const compare = "/kyc.v1.FaceMatchService/Compare"

// scripted is an invoker whose attempts (by grpc-previous-rpc-attempts) each run a function
// of their own. It writes the trailer an attempt returns through the grpc.Trailer call
// option, as grpc does, and counts the attempts that reached it.
type scripted struct {
	mu      sync.Mutex
	counts  map[int]int // attempts reached, by number
	arrived chan int
	acts    map[int]func(ctx context.Context) (metadata.MD, error)
}

func newScripted(acts map[int]func(ctx context.Context) (metadata.MD, error)) *scripted {
	return &scripted{counts: map[int]int{}, arrived: make(chan int, 16), acts: acts}
}

func (s *scripted) invoke(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
	n := 1
	if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
		v := md.Get(PreviousAttemptsKey)
		n = int(v[len(v)-1][0]-'0') + 1
	}
	s.mu.Lock()
	s.counts[n]++
	s.mu.Unlock()
	s.arrived <- n
	md, err := s.acts[n](ctx)
	for _, o := range opts {
		if t, ok := o.(grpc.TrailerCallOption); ok {
			*t.TrailerAddr = md
		}
	}
	return err
}

func (s *scripted) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// waitFor blocks until attempt n has reached the invoker.
func (s *scripted) waitFor(t *testing.T, n int) {
	t.Helper()
	select {
	case got := <-s.arrived:
		if got != n {
			t.Fatalf("attempt %d reached the server, want %d", got, n)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("attempt %d never reached the server", n)
	}
}

// none asserts that no further attempt reached the invoker.
func (s *scripted) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-s.arrived:
		t.Fatalf("attempt %d reached the server, want none", got)
	default:
	}
}

func unavailableWithRetryInfo(d time.Duration) error {
	st, _ := status.New(grpccodes.Unavailable, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	return st.Err()
}

var errUnavailable = status.Error(grpccodes.Unavailable, "down")

// TestHedgeStopsOnPushbackStop (issue 17, item 1): a hedge answered with a request not to
// retry — grpc-retry-pushback-ms -1 in its trailer, or a RetryInfo with a negative delay —
// sends no further hedge (gRFC A6), and (item 2) when attempt 1 then fails plainly the call
// fails with the stopping answer, trailer included, so that the retry loop around the hedge
// reads the stop. Before the fix hedge 3 went out on schedule and the call returned attempt
// 1's plain Unavailable.
func TestHedgeStopsOnPushbackStop(t *testing.T) {
	tests := []struct {
		name string
		stop func() (metadata.MD, error)
	}{
		{"trailer -1", func() (metadata.MD, error) {
			return metadata.Pairs(codes.PushbackKey, "-1"), errUnavailable
		}},
		{"RetryInfo negative", func() (metadata.MD, error) { return nil, unavailableWithRetryInfo(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			p, err := New(Config{MaxAttempts: 3, Delay: 10 * time.Millisecond}, WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			release1 := make(chan struct{})
			s := newScripted(map[int]func(context.Context) (metadata.MD, error){
				1: func(context.Context) (metadata.MD, error) { <-release1; return nil, errUnavailable },
				2: func(context.Context) (metadata.MD, error) { return tt.stop() },
				3: func(context.Context) (metadata.MD, error) { return nil, nil },
			})
			var trailer metadata.MD
			done := make(chan error, 1)
			go func() {
				done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke, grpc.Trailer(&trailer))
			}()
			s.waitFor(t, 1)
			clk.BlockUntil(1)
			clk.Advance(10 * time.Millisecond)
			s.waitFor(t, 2)
			// Hedge 2 has answered "stop" once its timer is gone and not re-armed.
			eventually(t, func() bool { return clk.Timers() == 0 })
			clk.Advance(time.Second)
			s.none(t)
			close(release1)
			err = <-done
			v := codes.Default().ClassifyTrailer(err, trailer)
			if v.Code != grpccodes.Unavailable || !v.Pushback.Stop {
				t.Fatalf("call ended with %v (trailer %v): verdict %+v, want Unavailable with a stop", err, trailer, v)
			}
			if n := s.total(); n != 2 {
				t.Fatalf("%d attempts, want 2", n)
			}
		})
	}
}

// TestHedgeWaitsOutPushbackDelay (issue 17, item 1): a hedge failing at 100ms with a
// RetryInfo of 500ms holds the next hedge back to 600ms, where the hedging delay alone would
// have sent it at 200ms. Before the fix it went at 200ms.
func TestHedgeWaitsOutPushbackDelay(t *testing.T) {
	clk := clocktest.New(time.Time{})
	finished := make(chan int, 4)
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.AttemptFinished {
			finished <- e.Attempt
		}
	})
	p, err := New(Config{MaxAttempts: 3, Delay: 100 * time.Millisecond}, WithClock(clk), WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
		2: func(context.Context) (metadata.MD, error) {
			return nil, unavailableWithRetryInfo(500 * time.Millisecond)
		},
		3: func(context.Context) (metadata.MD, error) { return nil, nil },
	})
	done := make(chan error, 1)
	go func() {
		done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
	}()
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(100 * time.Millisecond) // t=100ms: hedge 2, which fails with 500ms of pushback
	s.waitFor(t, 2)
	if n := <-finished; n != 2 { // hedge 2's outcome is taken
		t.Fatalf("attempt %d finished, want 2", n)
	}
	clk.Advance(100 * time.Millisecond) // t=200ms: the hedging delay alone would send hedge 3
	if n := clk.Timers(); n != 1 {
		t.Fatalf("%d timers at 200ms, want hedge 3's still armed", n)
	}
	s.none(t)
	clk.Advance(399 * time.Millisecond) // t=599ms
	s.none(t)
	clk.Advance(time.Millisecond) // t=600ms
	s.waitFor(t, 3)
	if err := <-done; err != nil {
		t.Fatalf("call: %v, want hedge 3's success", err)
	}
}

// TestRetryAroundHedgeHonoursHedgeStop (issue 17, item 2): retry wraps hedge, as in the
// suite. Hedge 2 says stop, then attempt 1 fails plainly: the retry loop must not retry.
// Before the fix the call failed with attempt 1's retryable error and was retried (3
// requests, then 4...).
func TestRetryAroundHedgeHonoursHedgeStop(t *testing.T) {
	clk := clocktest.New(time.Time{})
	hp, err := New(Config{MaxAttempts: 2, Delay: 10 * time.Millisecond}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := retry.New(retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, Jitter: retry.JitterNone}, retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	release1 := make(chan struct{})
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(context.Context) (metadata.MD, error) {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				<-release1
			}
			return nil, errUnavailable
		},
		2: func(context.Context) (metadata.MD, error) {
			return metadata.Pairs(codes.PushbackKey, "-1"), errUnavailable
		},
	})
	hedged := hp.Unary()
	inner := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return hedged(ctx, method, req, reply, cc, s.invoke, opts...)
	}
	done := make(chan error, 1)
	go func() {
		done <- rp.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, inner)
	}()
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(10 * time.Millisecond)
	s.waitFor(t, 2)
	eventually(t, func() bool { return clk.Timers() == 0 })
	close(release1)
	// Keep the fake clock moving (for a retry's backoff, were one scheduled) until the call
	// returns.
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				clk.Advance(time.Second)
			}
		}
	}()
	err2 := <-done
	close(stop)
	<-ticked
	if n := s.total(); n != 2 {
		t.Fatalf("%d requests (%v), want 2: the stop of hedge 2 must end the call", n, err2)
	}
	if status.Code(err2) != grpccodes.Unavailable {
		t.Fatalf("call: %v, want Unavailable", err2)
	}
}

// TestHedgePanicReachesCaller (issue 17, item 4): a panic in a hedge reaches the caller's
// goroutine with its value, as a panic of attempt 1 does, after attempt 1 was canceled and
// returned; before the fix it killed the process from the timer's goroutine.
func TestHedgePanicReachesCaller(t *testing.T) {
	clk := clocktest.New(time.Time{})
	p, err := New(Config{MaxAttempts: 2, Delay: 10 * time.Millisecond}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done()
			first <- ctx.Err()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
		2: func(context.Context) (metadata.MD, error) { panic("model crashed") },
	})
	got := make(chan any, 1)
	go func() {
		defer func() { got <- recover() }()
		_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
		got <- "returned without a panic"
	}()
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(10 * time.Millisecond)
	if v := <-got; v != "model crashed" {
		t.Fatalf("caller got %v, want the hedge's panic", v)
	}
	select {
	case err := <-first:
		if err != context.Canceled {
			t.Fatalf("attempt 1 ended with %v, want canceled", err)
		}
	default:
		t.Fatal("the panic reached the caller before attempt 1 returned")
	}
}

// TestFirstAttemptPanicCancelsHedges: a panic of attempt 1 goes on to the caller (as it did
// before), but only once the hedges in flight were canceled and returned, so that nothing the
// call started outlives it.
func TestFirstAttemptPanicCancelsHedges(t *testing.T) {
	clk := clocktest.New(time.Time{})
	p, err := New(Config{MaxAttempts: 2, Delay: 10 * time.Millisecond}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	release1 := make(chan struct{})
	hedgeDone := make(chan error, 1)
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(context.Context) (metadata.MD, error) { <-release1; panic("attempt 1 crashed") },
		2: func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done()
			hedgeDone <- ctx.Err()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
	})
	got := make(chan any, 1)
	go func() {
		defer func() { got <- recover() }()
		_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
	}()
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(10 * time.Millisecond)
	s.waitFor(t, 2)
	close(release1)
	if v := <-got; v != "attempt 1 crashed" {
		t.Fatalf("caller got %v, want attempt 1's panic", v)
	}
	select {
	case err := <-hedgeDone:
		if err != context.Canceled {
			t.Fatalf("hedge ended with %v, want canceled", err)
		}
	default:
		t.Fatal("the panic reached the caller before the hedge returned")
	}
}

// eventually polls cond (real time: it waits for goroutines, not for the clock).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
