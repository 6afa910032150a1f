package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
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
