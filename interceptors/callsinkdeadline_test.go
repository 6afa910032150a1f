package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// TestCallSinkGetsDeadlineApplied: the deadline a suite sets on a call (here the budget's cap,
// the call having none) is the call's own event: a call made with observe.WithCallSink sends
// its DeadlineApplied to that sink as well as to the suite's, as it does its attempts and its
// CallFinished. With a retry step (the direct chain, the runner) and without one.
func TestCallSinkGetsDeadlineApplied(t *testing.T) {
	for _, path := range []string{"direct", "runner", "no retry step"} {
		t.Run(path, func(t *testing.T) {
			p := config.Profile{}
			if path != "no retry step" {
				p.Retry = quickRetry(2)
			}
			cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
			suiteSink := &testkit.Recorder{}
			s, err := interceptors.New(cfg, interceptors.WithObserver(suiteSink), interceptors.WithClock(clocktest.New(time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			if path == "runner" {
				interceptors.DisableDirect(s, testkit.MethodCompare)
			}
			call := &testkit.Recorder{}
			ctx := observe.WithCallSink(context.Background(), call)
			inv := &scriptedInvoker{errs: []error{nil}}
			if err := s.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, inv.invoke); err != nil {
				t.Fatal(err)
			}
			if got := suiteSink.Count(observe.DeadlineApplied); got != 1 {
				t.Fatalf("suite sink: %d DeadlineApplied, want 1", got)
			}
			if got := call.Count(observe.CallFinished); got != 1 {
				t.Fatalf("call sink: %d CallFinished, want 1", got)
			}
			if got := call.Count(observe.DeadlineApplied); got != 1 {
				t.Errorf("call sink: %d DeadlineApplied, want 1, as the suite's sink has", got)
			}
		})
	}
}
