package hedge

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startClock is a fake clock that, once, holds the second Now read after the first timer's
// callback began (the first is the timer arming itself for the next hedge, under the call's
// lock; the second is the hedge's start, outside it) until release is closed, having closed
// held: the test acts while the timer's first hedge is reserved but not started.
type startClock struct {
	*clocktest.Fake
	fired         atomic.Bool
	nows          atomic.Int32
	held, release chan struct{}
}

func (s *startClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return s.Fake.AfterFunc(d, func() {
		s.fired.Store(true)
		f()
	})
}

func (s *startClock) Now() time.Time {
	if s.fired.Load() && s.nows.Add(1) == 2 {
		close(s.held)
		<-s.release
	}
	return s.Fake.Now()
}

// Under a retry loop, hedge 2 is reserved by the timer but held before it starts, while the
// timer reserves hedge 3, which goes out; hedge 2 then never goes: held back by the server's
// pushback of 1s on attempt 1's failure (the other hedge then fails too), or, once it starts,
// finding the call closed by the other hedge's refusal below (attempt 1 then fails). Two
// requests went out in round 1, one in round 2: each has a number of its own, 1, 2 and 3, in
// its AttemptFinished (and the hedge's HedgeSent), and each carries grpc-previous-rpc-attempts
// = the requests really sent before it. The hedge that went out was numbered 3 (carrying 2),
// and round 2's attempt 3 too: two AttemptFinished of attempt 3, as the soak of examples/stress
// saw (seed 2 FaceMatch call-18, seed 20 OCR call-21).
func TestHeldBackHedgeLeavesNoGapInTheNumbers(t *testing.T) {
	refused := &codes.Rejection{Code: grpccodes.ResourceExhausted, Reason: "BULKHEAD_FULL", Policy: "bulkhead"}
	for _, tc := range []struct {
		name   string
		first  func(opts []grpc.CallOption) error // attempt 1's failure
		hedge  error                              // the hedge's that went out
		before bool                               // attempt 1 fails before hedge 2 may start, else after
		sleep  time.Duration                      // the retry loop's backoff
	}{
		{"pushback", func(opts []grpc.CallOption) error { return pushbackFailure("1000", opts) }, status.Error(grpccodes.Unavailable, "down"), true, time.Second},
		{"refused_below", func([]grpc.CallOption) error { return status.Error(grpccodes.Unavailable, "down") }, refused, false, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const d = 10 * time.Millisecond
				clk := &startClock{Fake: clocktest.New(time.Now()), held: make(chan struct{}), release: make(chan struct{})}
				rec := &testkit.Recorder{}
				rp, err := retry.New(retry.Config{MaxAttempts: 2, InitialBackoff: d, Jitter: retry.JitterNone},
					retry.WithClock(clk), retry.WithObserver(rec))
				if err != nil {
					t.Fatal(err)
				}
				hp, err := New(Config{MaxAttempts: 3, Delay: d, Idempotent: true}, WithClock(clk), WithObserver(rec))
				if err != nil {
					t.Fatal(err)
				}
				var (
					mu   sync.Mutex
					prev [][]string // each request's grpc-previous-rpc-attempts, in the order sent
				)
				fail1, fail2 := make(chan struct{}), make(chan struct{})
				last := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
					md, _ := metadata.FromOutgoingContext(ctx)
					mu.Lock()
					prev = append(prev, md.Get(PreviousAttemptsKey))
					k := len(prev)
					mu.Unlock()
					switch k {
					case 1: // attempt 1
						<-fail1
						return tc.first(opts)
					case 2: // the hedge that went out
						<-fail2
						return tc.hedge
					}
					return nil // round 2
				}
				hedged := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
					return hp.Unary()(ctx, method, req, reply, cc, last, opts...)
				}
				var info retry.Info
				done := make(chan error, 1)
				go func() {
					done <- rp.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, hedged, retry.Report(&info))
				}()
				synctest.Wait()
				go clk.Advance(d) // the timer reserves hedge 2, whose start is held
				<-clk.held
				synctest.Wait()
				clk.Advance(d) // the timer reserves the next hedge, which goes out
				synctest.Wait()
				if tc.before {
					close(fail1)
				} else {
					close(fail2)
				}
				synctest.Wait()
				close(clk.release) // hedge 2 may start: it finds it may not
				synctest.Wait()
				if tc.before {
					close(fail2)
				} else {
					close(fail1)
				}
				synctest.Wait() // round 1 failed; the loop sleeps
				clk.Advance(tc.sleep)
				if err := <-done; err != nil {
					t.Fatalf("err = %v, want round 2's success", err)
				}
				var finished []int
				for _, e := range rec.Events(observe.AttemptFinished) {
					finished = append(finished, e.Attempt)
				}
				slices.Sort(finished)
				if want := []int{1, 2, 3}; !slices.Equal(finished, want) {
					t.Errorf("AttemptFinished attempts = %v, want %v: each request its own number", finished, want)
				}
				if sent := rec.Events(observe.HedgeSent); len(sent) != 1 || sent[0].Attempt != 2 {
					t.Errorf("HedgeSent = %+v, want one, attempt 2", sent)
				}
				if info.Attempts != 3 {
					t.Errorf("retry.Info.Attempts = %d, want 3", info.Attempts)
				}
				if want := [][]string{nil, {"1"}, {"2"}}; !slices.EqualFunc(prev, want, slices.Equal[[]string]) {
					t.Errorf("%s of the requests = %q, want %q: the requests sent before each", PreviousAttemptsKey, prev, want)
				}
			})
		})
	}
}
