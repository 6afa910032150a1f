package interceptors_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// timedSink is a SuccessRecorder that keeps the events it is given, Time included.
type timedSink struct {
	mu     sync.Mutex
	events []observe.Event
}

func (s *timedSink) Observe(e observe.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}
func (s *timedSink) ForMethod(string, string) observe.Sink                               { return s }
func (s *timedSink) ObserveSuccess(string, string, time.Duration, string, time.Duration) {}

var _ fastobs.SuccessRecorder = (*timedSink)(nil)

// On the fused path, the DeadlineApplied the suite held and sends for a call that did not
// succeed at once is timed at the call's start, as the deadline step times it when it sends it
// itself, not at the zero time nor at the call's end.
func TestFusedHeldDeadlineAppliedIsTimedAtCallStart(t *testing.T) {
	cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": {
		Deadline: &deadline.Config{Default: 2 * time.Second, Max: 10 * time.Second},
		Retry:    quickRetry(3),
	}}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktest.New(start)
	sink := &timedSink{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(sink), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(time.Hour))
	defer cancel()
	invoke := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		clk.Advance(attemptTime)
		return status.Error(grpccodes.InvalidArgument, "unreadable")
	}
	_ = s.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, invoke)
	n := 0
	for _, e := range sink.events {
		if e.Kind != observe.DeadlineApplied {
			continue
		}
		n++
		if !e.Time.Equal(start) {
			t.Errorf("DeadlineApplied (reason %q) at %v, want the call's start %v", e.Reason, e.Time, start)
		}
	}
	if n != 1 {
		t.Fatalf("%d DeadlineApplied events, want 1: %v", n, sink.events)
	}
}
