package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// unavailableAfter returns an Unavailable status whose RetryInfo asks for d (negative: do not
// retry).
func unavailableAfter(t *testing.T, d time.Duration) error {
	t.Helper()
	st, err := status.New(grpccodes.Unavailable, "down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// unfired is a caller's context whose deadline has passed on the policy's clock but whose
// timer has not fired yet (timers fire in goroutines of their own, the runtime's as the fake
// clock's): Err still says nothing. A loop that reads the time knows the deadline expired.
type unfired struct {
	context.Context
	dl time.Time
}

func (c unfired) Deadline() (time.Time, bool) { return c.dl, true }

// TestExhaustedReasonOrder pins the package documentation's table of why a retryable outcome
// is not retried, "checked in this order": where two rows hold at once, the earlier one gives
// the call's Info.Reason. Each case makes two rows true on its last attempt.
func TestExhaustedReasonOrder(t *testing.T) {
	stop := func(t *testing.T) error { return unavailableAfter(t, -time.Second) }
	long := func(t *testing.T) error { return unavailableAfter(t, 5*time.Second) }
	tests := []struct {
		name       string
		cfg        retry.Config
		callerIn   time.Duration // 0: no deadline of the caller's
		canceled   bool          // the caller cancels during the attempt
		took       time.Duration // how long each attempt takes
		fail       func(*testing.T) error
		wantReason string // "" with wantRaw: the error as it is
		wantRaw    bool
	}{
		{name: "canceled before deadline", callerIn: time.Second, canceled: true, took: 2 * time.Second, fail: stop, wantRaw: true},
		{name: "deadline before budget", cfg: retry.Config{Budget: time.Second}, callerIn: time.Second, took: 2 * time.Second, fail: stop, wantReason: observe.ReasonDeadline},
		{name: "deadline before pushback stop", callerIn: time.Second, took: 2 * time.Second, fail: stop, wantReason: observe.ReasonDeadline},
		{name: "deadline before max attempts", cfg: retry.Config{MaxAttempts: 1}, callerIn: time.Second, took: 2 * time.Second, fail: long, wantReason: observe.ReasonDeadline},
		{name: "budget before pushback stop", cfg: retry.Config{Budget: time.Second}, took: 2 * time.Second, fail: stop, wantReason: observe.ReasonBudget},
		{name: "pushback stop before max attempts", cfg: retry.Config{MaxAttempts: 1}, fail: stop, wantReason: observe.ReasonPushbackStop},
		{name: "max attempts before the sleep that does not fit", cfg: retry.Config{MaxAttempts: 1, Budget: time.Second}, fail: long, wantReason: observe.ReasonMaxAttempts},
		{name: "the sleep that does not fit before the retry budget", cfg: retry.Config{Budget: time.Second, Throttle: retry.RetryBudgetConfig{MaxTokens: 2}}, fail: long, wantReason: observe.ReasonBudget},
		{name: "max attempts before the retry budget", cfg: retry.Config{MaxAttempts: 1, Throttle: retry.RetryBudgetConfig{MaxTokens: 2}}, fail: long, wantReason: observe.ReasonMaxAttempts},
		{name: "retry budget last", cfg: retry.Config{Throttle: retry.RetryBudgetConfig{MaxTokens: 2}}, fail: long, wantReason: observe.ReasonRetryBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			cfg := tt.cfg
			cfg.Jitter, cfg.Idempotent = retry.JitterNone, true
			p, err := retry.New(cfg, retry.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.callerIn > 0 {
				ctx = unfired{ctx, clk.Now().Add(tt.callerIn)}
			}
			calls := 0
			var info retry.Info
			err = p.Do(ctx, "/kyc.v1.Svc/M", func(context.Context) error {
				calls++
				if tt.canceled {
					cancel()
				}
				if tt.took > 0 {
					clk.Advance(tt.took)
				}
				return tt.fail(t)
			}, retry.Report(&info))
			if calls != 1 {
				t.Fatalf("%d attempts, want 1", calls)
			}
			if got := errors.Is(err, retry.ErrExhausted); got == tt.wantRaw {
				t.Fatalf("err = %v: exhausted %v, want %v", err, got, !tt.wantRaw)
			}
			if info.Reason != tt.wantReason {
				t.Fatalf("Info.Reason = %q, want %q (err %v)", info.Reason, tt.wantReason, err)
			}
		})
	}
}

// TestNormalizeDefaultsThatFollowOtherFields pins the defaults of Config's fields that depend
// on another field: max_backoff is never below initial_backoff, token_ratio never above
// max_tokens.
func TestNormalizeDefaultsThatFollowOtherFields(t *testing.T) {
	got := retry.Normalize(retry.Config{InitialBackoff: 20 * time.Second, Throttle: retry.RetryBudgetConfig{MaxTokens: 0.05}})
	if got.MaxBackoff != 20*time.Second {
		t.Errorf("MaxBackoff = %v, want the 20s initial backoff", got.MaxBackoff)
	}
	if got.Throttle.TokenRatio != 0.05 {
		t.Errorf("TokenRatio = %v, want max_tokens' 0.05", got.Throttle.TokenRatio)
	}
	if got := retry.Normalize(retry.Config{}); got.MaxBackoff != retry.DefaultMaxBackoff {
		t.Errorf("MaxBackoff = %v, want %v", got.MaxBackoff, retry.DefaultMaxBackoff)
	}
}
