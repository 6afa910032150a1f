package interceptors_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retiredOrder is a sink that records, in the order they arrive, the services of the breakers'
// Retired events, and runs atFirst (once) at the first of them, before recording it.
type retiredOrder struct {
	mu       sync.Mutex
	services []string
	atFirst  func()
}

func (r *retiredOrder) Observe(e observe.Event) {
	if e.Kind != observe.Retired || e.Policy != observe.PolicyBreaker {
		return
	}
	r.mu.Lock()
	f := r.atFirst
	r.atFirst = nil
	r.mu.Unlock()
	if f != nil {
		f()
	}
	r.mu.Lock()
	r.services = append(r.services, e.Service)
	r.mu.Unlock()
}

func (r *retiredOrder) set(f func()) {
	r.mu.Lock()
	r.atFirst = f
	r.mu.Unlock()
}

func (r *retiredOrder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.services)
}

const (
	orderGone1 = "test.v1.ReloadCloseGone1"
	orderGone2 = "test.v1.ReloadCloseGone2"
	orderKept  = "test.v1.ReloadCloseKept"
)

// reloadCloseSuite returns a suite whose three services' breakers are open, and the
// configuration that keeps orderKept's alone: a reload to it retires the other two breakers,
// and a Close after it retires orderKept's.
func reloadCloseSuite(t *testing.T, sink observe.Sink) (*interceptors.Suite, *config.Config) {
	t.Helper()
	cfg := func(svcs ...string) *config.Config {
		c := &config.Config{
			Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
			Services: map[string]config.Service{},
		}
		for _, svc := range svcs {
			c.Services[svc] = config.Service{Profile: "p", Methods: map[string]config.Method{"Do": {}}}
		}
		return c
	}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := interceptors.New(cfg(orderGone1, orderGone2, orderKept), interceptors.WithObserver(sink), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	for _, svc := range []string{orderGone1, orderGone2, orderKept} {
		_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail) // its breaker opens
	}
	clk.Advance(time.Second)
	return s, cfg(orderKept)
}

// checkRetiredOrder fails t unless got is the reload's two Retired breakers (in either order)
// followed by the Close's.
func checkRetiredOrder(t *testing.T, got []string) {
	t.Helper()
	gone := slices.Clone(got[:min(len(got), 2)])
	slices.Sort(gone)
	if len(got) != 3 || got[2] != orderKept || !slices.Equal(gone, []string{orderGone1, orderGone2}) {
		t.Errorf("breakers retired in the order %q, want the reload's (%s, %s) before the Close's (%s)",
			got, orderGone1, orderGone2, orderKept)
	}
}

// A Close that comes while a Reload sends its Retired events (the observer holds the first)
// does not send its own before them, and the suite does not report itself closed while they
// are still to come: a scrape would drop the closed suite and let the retired breakers' last
// events stand in for them, and an observer of events alone would see the reload's Retired
// events after the Close's.
func TestCloseDuringReloadRetiredKeepsTheirOrder(t *testing.T) {
	rec := &retiredOrder{}
	s, next := reloadCloseSuite(t, rec)
	entered, release := make(chan struct{}), make(chan struct{})
	rec.set(func() {
		close(entered)
		<-release
	})
	reloaded := make(chan error, 1)
	go func() { reloaded <- s.Reload(next) }()
	<-entered
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	closedEarly := s.Closed()
	close(release)
	if err := <-reloaded; err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if closedEarly {
		t.Error("Close returned with the reload's Retired events still to come, and the suite reported itself closed")
	}
	checkRetiredOrder(t, rec.seen())
	if !s.Closed() {
		t.Error("once the reload's and the Close's Retired events are sent, the suite does not report itself closed")
	}
	if got := breakerStates(s); len(got) != 0 {
		t.Errorf("the closed suite read breakers %v, want none", got)
	}
}

// A sink that calls Close from its Observe, at a Reload's Retired event, does not deadlock: the
// Close returns at once, the reload sends its other Retired events, then the Close's, and only
// then is the suite closed.
func TestCloseFromSinkDuringReloadRetired(t *testing.T) {
	rec := &retiredOrder{}
	s, next := reloadCloseSuite(t, rec)
	var (
		closeErr    error
		closedEarly bool
	)
	rec.set(func() {
		closeErr = s.Close()
		closedEarly = s.Closed()
	})
	if err := s.Reload(next); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if closeErr != nil {
		t.Errorf("Close from the sink: %v", closeErr)
	}
	if closedEarly {
		t.Error("Close called from the sink at the reload's first Retired event left the suite reported closed at once")
	}
	checkRetiredOrder(t, rec.seen())
	if !s.Closed() {
		t.Error("after the reload sent its and the Close's Retired events, the suite does not report itself closed")
	}
	if err := s.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if got := rec.seen(); len(got) != 3 {
		t.Errorf("a second Close sent more Retired events: %q", got)
	}
}

// A call through a chain built before Close goes on after it, and its events reach the suite's
// sink after the Close's Retired events (as Close documents): a breaker state they give is
// the last one an observer has.
func TestCallAfterCloseSendsItsEvents(t *testing.T) {
	rec := &testkit.Recorder{}
	s, _ := reloadCloseSuite(t, rec)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	retired := len(rec.Events(observe.Retired))
	if retired != 3 {
		t.Fatalf("Close sent %d Retired events, want 3", retired)
	}
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	if err := s.Unary()(context.Background(), "/"+orderKept+"/Do", nil, nil, nil, ok); err == nil {
		t.Fatal("a call through an open breaker after Close succeeded, want it rejected")
	}
	if got := len(rec.Events(observe.CallFinished)); got != 4 {
		t.Errorf("CallFinished events: %d, want 4 (3 before Close, 1 after)", got)
	}
	all := rec.Events()
	if last := all[len(all)-1]; last.Kind != observe.CallFinished || last.Service != orderKept {
		t.Errorf("the last event is %v of %s, want the call's CallFinished after Close", last.Kind, last.Service)
	}
}
