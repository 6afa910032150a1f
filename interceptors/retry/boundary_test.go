package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestDeadlineReachedAtLastAttemptIsDeadline: the caller's deadline is checked before
// MaxAttempts (the package table's order), and a deadline the clock has reached exactly, before
// its timer fired, has passed: the call ends with reason deadline, not max_attempts.
func TestDeadlineReachedAtLastAttemptIsDeadline(t *testing.T) {
	s := newSetup(t, retry.Config{MaxAttempts: 1, Idempotent: true}, -1)
	ctx, cancel := context.WithDeadline(context.Background(), s.clk.Now().Add(time.Hour))
	defer cancel()
	err := s.p.Do(ctx, testkit.MethodCompare, func(context.Context) error {
		s.clk.Advance(time.Hour)
		return status.Error(grpccodes.Unavailable, "down")
	})
	if info, ok := retry.InfoOf(err); !ok || info.Reason != observe.ReasonDeadline || info.Attempts != 1 {
		t.Fatalf("call = %v (info %+v), want exhausted after 1 attempt with reason %q", err, info, observe.ReasonDeadline)
	}
}

// TestAttemptStartingAtTheDeadlineSparesTheBudget: an attempt that starts exactly at the
// call's deadline started late (grpc fails it unsent): its DeadlineExceeded takes no token.
func TestAttemptStartingAtTheDeadlineSparesTheBudget(t *testing.T) {
	s := newSetup(t, retry.Config{Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1}}, -1)
	ctx, cancel := context.WithDeadline(context.Background(), s.clk.Now())
	defer cancel()
	_ = s.p.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
	})
	if got := s.p.Budget("kyc.v1.FaceMatchService").Tokens(); got != 10 {
		t.Fatalf("tokens = %v after an attempt that began at its deadline, want 10", got)
	}
}

// TestCallerCancelAfterAttemptTimeoutIsCanceled: when the caller cancels after the attempt's
// own timeout fired, the attempt's Canceled is the caller's: the call returns it as it is, not
// as a per-attempt timeout's DeadlineExceeded.
func TestCallerCancelAfterAttemptTimeoutIsCanceled(t *testing.T) {
	s := newSetup(t, retry.Config{PerAttemptTimeout: 100 * time.Millisecond, Idempotent: true}, -1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.p.Do(ctx, testkit.MethodCompare, func(actx context.Context) error {
		s.clk.Advance(100 * time.Millisecond)
		<-actx.Done()
		cancel()
		return context.Canceled
	})
	if !errors.Is(err, context.Canceled) || status.Code(err) == grpccodes.DeadlineExceeded {
		t.Fatalf("call = %v (code %v), want the caller's context.Canceled", err, status.Code(err))
	}
}

// TestBudgetWinsATieWithTheDeadline: when the call's deadline and the budget's end are the
// same instant, the call that runs out of time ends with reason budget, whether the time has
// passed (a declared deadline) or the next sleep would not fit (the caller's deadline). A
// suite's deadline step, which the call budget caps, declares the budget's end itself (its
// DeadlineApplied says budget): the call's RetriesExhausted said deadline, pointing an
// operator at the callers' deadlines instead of the budget.
func TestBudgetWinsATieWithTheDeadline(t *testing.T) {
	cfg := retry.Config{Budget: time.Hour, Jitter: retry.JitterNone, Idempotent: true}
	unavailable := status.Error(grpccodes.Unavailable, "down")

	s := newSetup(t, cfg, -1)
	var info retry.Info
	err := s.p.InvokeWithin(context.Background(), s.clk.Now().Add(time.Hour), testkit.MethodCompare, nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			s.clk.Advance(time.Hour)
			return unavailable
		}, retry.Report(&info))
	if !errors.Is(err, retry.ErrExhausted) || info.Reason != observe.ReasonBudget {
		t.Fatalf("declared deadline at the budget's end, passed: call = %v, reason %q, want %q", err, info.Reason, observe.ReasonBudget)
	}

	s = newSetup(t, cfg, -1)
	ctx, cancel := context.WithDeadline(context.Background(), s.clk.Now().Add(time.Hour))
	defer cancel()
	err = s.p.Do(ctx, testkit.MethodCompare, func(context.Context) error {
		s.clk.Advance(time.Hour - 50*time.Millisecond) // the 100ms sleep does not fit
		return unavailable
	}, retry.Report(&info))
	if !errors.Is(err, retry.ErrExhausted) || info.Reason != observe.ReasonBudget {
		t.Fatalf("caller's deadline at the budget's end, sleep too long: call = %v, reason %q, want %q", err, info.Reason, observe.ReasonBudget)
	}
}
