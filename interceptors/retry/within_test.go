package retry_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// within returns an interceptor that runs the policy with a deadline declared at declareIn
// from the call's start (InvokeWithin), as the suite's folded deadline step does.
func (s *setup) within(declareIn time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return s.p.InvokeWithin(ctx, s.clk.Now().Add(declareIn), method, req, reply, cc, invoker, opts...)
	}
}

// hangUntil blocks every attempt before the n-th (by its metadata) until its context ends.
func hangUntil(n string) func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	return func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if md, _ := metadata.FromIncomingContext(ctx); !slices.Equal(md.Get(xRetryAttempt), []string{n}) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return okCompare, nil
	}
}

// TestInvokeWithinDeclaredDeadline: a deadline declared for the call (not in ctx) bounds each
// attempt through the attempt's one context. When the per-attempt timeout comes first, its
// DeadlineExceeded is retried; when the declared deadline comes first, the call ends with
// DeadlineExceeded, not retried, reason deadline — as when the deadline was a context around
// the loop. Only one timer lives at a time either way.
func TestInvokeWithinDeclaredDeadline(t *testing.T) {
	t.Run("per-attempt timeout first: retried", func(t *testing.T) {
		s := newSetup(t, retry.Config{PerAttemptTimeout: 200 * time.Millisecond, Jitter: retry.JitterNone, Budget: 8 * time.Second}, -1)
		srv := testkit.Start(t, &testkit.Server{CompareF: hangUntil("3")})
		cc := srv.Dial(t, grpc.WithUnaryInterceptor(s.within(5*time.Second)))
		done := make(chan struct{})
		go func() {
			defer close(done)
			// attempt 1's timeout, the sleep, attempt 2's timeout, the sleep: one timer each.
			for _, want := range ms(200, 100, 200, 200) {
				if got := s.clk.AdvanceWhenWaiting(); got != want {
					t.Errorf("advanced %v, want %v", got, want)
				}
				if n := s.clk.Timers(); n > 1 {
					t.Errorf("%d timers alive, want at most 1", n)
				}
			}
		}()
		var info retry.Info
		_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info))
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("clock not driven through: err %v, info %+v", err, info)
		}
		if err != nil || info.Attempts != 3 {
			t.Fatalf("err = %v, info %+v", err, info)
		}
	})
	t.Run("declared deadline first: not retried", func(t *testing.T) {
		s := newSetup(t, retry.Config{PerAttemptTimeout: 5 * time.Second, Jitter: retry.JitterNone, Budget: 8 * time.Second}, -1)
		srv := testkit.Start(t, &testkit.Server{CompareF: hangUntil("never")})
		cc := srv.Dial(t, grpc.WithUnaryInterceptor(s.within(2*time.Second)))
		advanced := make(chan time.Duration, 1)
		go func() { advanced <- s.clk.AdvanceWhenWaiting() }()
		_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{})
		// Checked here, not in the goroutine: an Errorf there could come after the test ended.
		select {
		case got := <-advanced:
			if got != 2*time.Second {
				t.Errorf("advanced %v, want the declared 2s", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the call ended (%v) without the clock moved: no timer was set", err)
		}
		info, ok := retry.InfoOf(err)
		if status.Code(err) != grpccodes.DeadlineExceeded || !ok || info.Attempts != 1 || info.Reason != observe.ReasonDeadline {
			t.Fatalf("err = %v, info %+v", err, info)
		}
		if n := s.rec.Count(observe.RetryScheduled); n != 0 {
			t.Fatalf("%d retries scheduled", n)
		}
		if srv.Calls(testkit.MethodCompare) > 1 {
			t.Fatalf("%d attempts reached the server", srv.Calls(testkit.MethodCompare))
		}
	})
	t.Run("budget first: reason budget", func(t *testing.T) {
		s := newSetup(t, retry.Config{Jitter: retry.JitterNone, Budget: time.Second}, -1)
		srv := testkit.Start(t, &testkit.Server{CompareF: hangUntil("never")})
		cc := srv.Dial(t, grpc.WithUnaryInterceptor(s.within(5*time.Second)))
		advanced := make(chan time.Duration, 1)
		go func() { advanced <- s.clk.AdvanceWhenWaiting() }()
		_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{})
		// Checked here, not in the goroutine: an Errorf there could come after the test ended.
		select {
		case got := <-advanced:
			if got != time.Second {
				t.Errorf("advanced %v, want the 1s budget", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the call ended (%v) without the clock moved: no timer was set", err)
		}
		if info, ok := retry.InfoOf(err); status.Code(err) != grpccodes.DeadlineExceeded || !ok || info.Attempts != 1 || info.Reason != observe.ReasonBudget {
			t.Fatalf("err = %v, info %+v", err, info)
		}
	})
	t.Run("disabled: the declared deadline still applies", func(t *testing.T) {
		s := newSetup(t, retry.Config{Jitter: retry.JitterNone}, -1)
		var saw time.Duration
		srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			dl, _ := ctx.Deadline()
			saw = time.Until(dl)
			return okCompare, nil
		}})
		cc := srv.Dial(t, grpc.WithUnaryInterceptor(s.within(time.Hour)))
		if _, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Disable()); err != nil {
			t.Fatal(err)
		}
		// The fake clock starts at the real time and has not moved: the server sees about an hour.
		if saw <= 59*time.Minute || saw > time.Hour {
			t.Fatalf("server saw %v left, want about 1h", saw)
		}
	})
}

// TestInvokeKeptIgnoredWithFakeClock: InvokeKept's kept (grpc keeps the per-attempt timeout)
// is ignored under any clock but the real one, whose time grpc's own timer does not follow:
// under a fake clock the loop times each attempt itself, so that advancing the clock past the
// per-attempt timeout ends the attempt (retried), as without kept.
func TestInvokeKeptIgnoredWithFakeClock(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := newSetup(t, retry.Config{PerAttemptTimeout: timeout, Jitter: retry.JitterNone, Budget: 8 * time.Second}, -1)
	srv := testkit.Start(t, &testkit.Server{CompareF: hangUntil("2")})
	kept := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return s.p.InvokeKept(ctx, nil, time.Time{}, timeout, method, req, reply, cc, invoker, opts...)
	}
	cc := srv.Dial(t, grpc.WithUnaryInterceptor(kept))
	advanced := make(chan time.Duration, 2)
	go func() {
		// attempt 1's timeout, then the sleep before attempt 2.
		for range 2 {
			advanced <- s.clk.AdvanceWhenWaiting()
		}
	}()
	var info retry.Info
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(ctx, &kycv1.CompareRequest{}, retry.Report(&info))
	if err != nil || info.Attempts != 2 {
		t.Fatalf("under a fake clock, with kept = the per-attempt timeout: err = %v, info %+v; want attempt 1 ended by the fake clock's %v and attempt 2 to succeed", err, info, timeout)
	}
	if got := <-advanced; got != timeout {
		t.Fatalf("first advance %v, want the per-attempt timeout %v", got, timeout)
	}
}
