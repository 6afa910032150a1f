package deadline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// A caller's deadline exactly Max away is within the cap (the rule is deadline ≤ now+Max):
// the context is passed on as it is and no DeadlineApplied is emitted.
func TestDeadlineAtExactlyMaxIsKept(t *testing.T) {
	clk := clocktest.New(time.Time{})
	rec := &testkit.Recorder{}
	p, err := deadline.New(deadline.Config{Max: 3 * time.Second}, deadline.WithClock(clk), deadline.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := clock.WithTimeout(context.Background(), clk, 3*time.Second)
	defer cancel()
	if d, set := p.Deadline(ctx, testkit.MethodCompare); set {
		t.Fatalf("Deadline = %v from now, set; want the caller's deadline (3s, exactly Max) kept", d.Sub(clk.Now()))
	}
	got, release := p.Context(ctx, testkit.MethodCompare)
	defer release()
	if got != ctx {
		t.Fatal("Context replaced a deadline exactly Max away")
	}
	if evs := rec.Events(observe.DeadlineApplied); len(evs) != 0 {
		t.Fatalf("events = %+v, want none", evs)
	}
}

// In a suite, a default equal to the call budget is the section's own setting, not one the
// budget shortened: it is applied with ReasonDefault; a default one nanosecond over the
// budget is the budget's (ReasonBudget).
func TestSuiteDefaultEqualToTheBudgetIsTheSections(t *testing.T) {
	const budget = 8 * time.Second
	for _, tt := range []struct {
		name       string
		cfg        deadline.Config
		want       time.Duration
		wantReason string
	}{
		{"default equal to the budget, no max", deadline.Config{Default: budget}, budget, observe.ReasonDefault},
		{"default equal to the budget, max beyond it", deadline.Config{Default: budget, Max: time.Minute}, budget, observe.ReasonDefault},
		{"default just over the budget", deadline.Config{Default: budget + time.Nanosecond}, budget, observe.ReasonBudget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, clk, rec := buildUnderBudget(t, tt.cfg, budget)
			d, set := p.Deadline(context.Background(), testkit.MethodCompare)
			if !set || d.Sub(clk.Now()) != tt.want {
				t.Fatalf("Deadline = %v from now, set %v; want %v", d.Sub(clk.Now()), set, tt.want)
			}
			evs := rec.Events(observe.DeadlineApplied)
			if len(evs) != 1 || evs[0].Reason != tt.wantReason || evs[0].Delay != tt.want {
				t.Fatalf("events %+v, want one %s with delay %v", evs, tt.wantReason, tt.want)
			}
		})
	}
}

// A stream that cannot be opened releases the deadline's context (and its timer) at once,
// instead of holding it until the deadline passes.
func TestStreamOpenErrorReleasesTheDeadline(t *testing.T) {
	clk := clocktest.New(time.Time{}) // The deadline never passes by itself.
	p, err := deadline.New(deadline.Config{Default: time.Hour}, deadline.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	openErr := errors.New("transport is closing")
	var dctx context.Context
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		dctx = ctx
		return nil, openErr
	}
	cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	if cs != nil || !errors.Is(err, openErr) {
		t.Fatalf("Stream = %v, %v; want nil and the streamer's error", cs, err)
	}
	if _, ok := dctx.Deadline(); !ok {
		t.Fatal("the stream got no deadline")
	}
	if dctx.Err() == nil || clk.Timers() != 0 {
		t.Fatalf("after the failed open: context err %v, %d timers; want it released, no timer", dctx.Err(), clk.Timers())
	}
}

// A call whose context carries a call sink (observe.WithCallSink) gets its DeadlineApplied
// there too, besides the policy's observer: one event to each.
func TestDeadlineAppliedReachesTheCallSink(t *testing.T) {
	clk := clocktest.New(time.Time{})
	policySink, callSink := &testkit.Recorder{}, &testkit.Recorder{}
	p, err := deadline.New(deadline.Config{Default: 2 * time.Second}, deadline.WithClock(clk), deadline.WithObserver(policySink))
	if err != nil {
		t.Fatal(err)
	}
	ctx := observe.WithCallSink(context.Background(), callSink)
	if _, set := p.Deadline(ctx, testkit.MethodCompare); !set {
		t.Fatal("Deadline set nothing, want the 2s default")
	}
	for name, rec := range map[string]*testkit.Recorder{"policy's observer": policySink, "call sink": callSink} {
		evs := rec.Events(observe.DeadlineApplied)
		if len(evs) != 1 || evs[0].Reason != observe.ReasonDefault || evs[0].Delay != 2*time.Second || evs[0].Method != testkit.MethodCompare {
			t.Errorf("%s got %+v, want one DeadlineApplied (default, 2s) for %s", name, evs, testkit.MethodCompare)
		}
	}
}
