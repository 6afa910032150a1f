package interceptors_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// TestPoliciesRefuseTypedNilOptions: every policy's New refuses a clock or an observer variable
// left unset (a nil pointer in the interface), which it accepted before and which panicked at
// the first call or event (the breaker at its first state change, the throttle at New itself
// reading its clock), with an error naming the option, the type and the rule, as the suite's
// WithObserver and the deadline and fallback policies do; nil itself stays the default.
func TestPoliciesRefuseTypedNilOptions(t *testing.T) {
	var rec *testkit.Recorder
	var clk *clocktest.Fake
	const (
		wantSink  = "WithObserver: a nil *testkit.Recorder is a typed nil, which panics at the first event; pass nil for no observer"
		wantClock = "WithClock: a nil *clocktest.Fake is a typed nil, which panics at the first call; pass nil for the real clock"
	)
	type build func(c clock.Clock, s observe.Sink) error
	builders := map[string]build{
		"breaker.New": func(c clock.Clock, s observe.Sink) error {
			_, err := breaker.New("svc", breaker.Config{ConsecutiveFailures: 3}, breaker.WithClock(c), breaker.WithObserver(s))
			return err
		},
		"breaker.Registry.Get": func(c clock.Clock, s observe.Sink) error {
			_, err := new(breaker.Registry).Get("svc", breaker.Config{ConsecutiveFailures: 3}, breaker.WithClock(c), breaker.WithObserver(s))
			return err
		},
		"bulkhead.New": func(c clock.Clock, s observe.Sink) error {
			_, err := bulkhead.New("svc", bulkhead.Config{MaxConcurrent: 2}, bulkhead.WithClock(c), bulkhead.WithObserver(s))
			return err
		},
		"throttle.New": func(c clock.Clock, s observe.Sink) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = nil // the old code: New reads the clock and panics
					t.Errorf("throttle.New panicked: %v", r)
				}
			}()
			_, err = throttle.New("svc", throttle.Config{}, throttle.WithClock(c), throttle.WithObserver(s))
			return err
		},
		"retry.New": func(c clock.Clock, s observe.Sink) error {
			_, err := retry.New(retry.Config{MaxAttempts: 3}, retry.WithClock(c), retry.WithObserver(s))
			return err
		},
		"hedge.New": func(c clock.Clock, s observe.Sink) error {
			_, err := hedge.New(hedge.Config{Delay: time.Millisecond}, hedge.WithClock(c), hedge.WithObserver(s))
			return err
		},
		"ratelimit.New": func(c clock.Clock, s observe.Sink) error {
			_, err := ratelimit.New("svc", nil, ratelimit.Config{Rate: 10}, ratelimit.WithClock(c), ratelimit.WithObserver(s))
			return err
		},
	}
	for name, b := range builders {
		t.Run(name, func(t *testing.T) {
			if err := b(nil, rec); err == nil || !strings.Contains(err.Error(), wantSink) {
				t.Errorf("with a typed-nil observer: %v, want an error %q", err, wantSink)
			}
			if err := b(clk, nil); err == nil || !strings.Contains(err.Error(), wantClock) {
				t.Errorf("with a typed-nil clock: %v, want an error %q", err, wantClock)
			}
			if err := b(nil, nil); err != nil {
				t.Errorf("with nil options: %v, want the defaults", err)
			}
		})
	}
}
