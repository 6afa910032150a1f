package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestAttemptErrorAfterItsTimeoutIsKept: an attempt whose work outlasts its per-attempt
// timeout but returns an answer of its own (a plain error, a business status) ends the call
// with that answer, classified as it is: only the timeout's own cancellation (Canceled, which
// contexts derived from a fake-clock deadline report) reads as DeadlineExceeded.
func TestAttemptErrorAfterItsTimeoutIsKept(t *testing.T) {
	business, err := status.New(grpccodes.Unknown, "insufficient funds").WithDetails(&errdetails.ErrorInfo{Reason: "INSUFFICIENT_FUNDS", Domain: "bank.example"})
	if err != nil {
		t.Fatal(err)
	}
	cls, err := codes.Default().With(codes.Overrides{Reasons: map[string]codes.Class{"INSUFFICIENT_FUNDS": codes.Business}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"plain error", errors.New("record not found")},
		{"business status", business.Err()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			p, err := retry.New(retry.Config{PerAttemptTimeout: time.Second, Idempotent: true, Jitter: retry.JitterNone},
				retry.WithClock(clk), retry.WithClassifier(cls), retry.WithObserver(newDriver(t, clk, 0)))
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			var info retry.Info
			got := p.Do(context.Background(), "/test.v1.Svc/Do", func(ctx context.Context) error {
				calls++
				if calls > 1 {
					return nil
				}
				// Work that does not watch ctx, and answers after the attempt's timeout.
				clk.Advance(2 * time.Second)
				<-ctx.Done()
				return tc.err
			}, retry.Report(&info))
			if calls != 1 || got != tc.err {
				t.Fatalf("Do = %v after %d attempts (info %+v), want %v after 1", got, calls, info, tc.err)
			}
		})
	}
}

// TestAttemptCanceledByItsTimeoutIsRetried: what a context derived from the attempt's reports
// when the per-attempt timeout ends it (Canceled, under a fake clock) reads as the attempt's
// DeadlineExceeded, and is retried.
func TestAttemptCanceledByItsTimeoutIsRetried(t *testing.T) {
	clk := clocktest.New(time.Now())
	rec := &testkit.Recorder{}
	p, err := retry.New(retry.Config{PerAttemptTimeout: time.Second, Idempotent: true, Jitter: retry.JitterNone},
		retry.WithClock(clk), retry.WithObserver(observe.Multi(rec, newDriver(t, clk, 0))))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = p.Do(context.Background(), "/test.v1.Svc/Do", func(ctx context.Context) error {
		calls++
		if calls > 1 {
			return nil
		}
		inner, cancel := context.WithCancel(ctx)
		defer cancel()
		clk.Advance(2 * time.Second)
		<-inner.Done()
		return inner.Err()
	})
	if err != nil || calls != 2 {
		t.Fatalf("Do = %v after %d attempts, want nil after 2", err, calls)
	}
	if e := rec.Events(observe.AttemptFinished); len(e) != 2 || e[0].Code != grpccodes.DeadlineExceeded {
		t.Fatalf("AttemptFinished = %+v, want DeadlineExceeded then OK", e)
	}
}
