package interceptors_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retiredProbe is a sink that, at each Retired event, runs probe: what an observer that scrapes
// the suite as its Retired events arrive (promobs' Scrape) sees then.
type retiredProbe struct {
	mu    sync.Mutex
	probe func(observe.Event)
}

func (p *retiredProbe) Observe(e observe.Event) {
	p.mu.Lock()
	probe := p.probe
	p.mu.Unlock()
	if e.Kind == observe.Retired && probe != nil {
		probe(e)
	}
}

func (p *retiredProbe) set(probe func(observe.Event)) {
	p.mu.Lock()
	p.probe = probe
	p.mu.Unlock()
}

// breakerStates returns the breaker states s's Levels read, by service and method.
func breakerStates(s *interceptors.Suite) map[[2]string]string {
	out := map[[2]string]string{}
	s.Levels(func(l observe.Level) bool {
		if l.Kind == observe.LevelBreakerState {
			out[[2]string{l.Service, l.Method}] = l.State
		}
		return true
	})
	return out
}

// Close sends its Retired events before the suite reports itself closed: an observer that
// reads the suite as the first Retired arrives still finds it open, its levels read (among
// them the breaker's), and a Reload refused; once Close returns, the suite is closed and reads
// nothing. A scrape in between never finds the suite closed with its Retired events still to
// come (its breakers' last event states would stand in for them).
func TestCloseSendsRetiredBeforeClosed(t *testing.T) {
	const svc = "test.v1.RetiredClose"
	probe := &retiredProbe{}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker:  &breaker.Config{ConsecutiveFailures: 1},
			Bulkhead: &bulkhead.Config{MaxConcurrent: 4},
		}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}, interceptors.WithObserver(probe), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail) // the breaker opens

	var (
		retired   int
		closed    bool
		states    map[[2]string]string
		reloadErr error
	)
	probe.set(func(observe.Event) {
		if retired++; retired > 1 {
			return
		}
		closed = s.Closed()
		states = breakerStates(s)
		reloadErr = s.Reload(nil)
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if retired == 0 {
		t.Fatal("Close sent no Retired event")
	}
	if closed {
		t.Error("at the first Retired event, the suite already reported itself closed")
	}
	if got := states[[2]string{svc, ""}]; got != "open" {
		t.Errorf("at the first Retired event, the breaker read %q, want open (read: %v)", got, states)
	}
	if !errors.Is(reloadErr, interceptors.ErrClosed) {
		t.Errorf("a Reload at the first Retired event of Close: %v, want ErrClosed", reloadErr)
	}
	if !s.Closed() {
		t.Error("after Close, the suite does not report itself closed")
	}
	if got := breakerStates(s); len(got) != 0 {
		t.Errorf("after Close, the suite read breakers %v, want none", got)
	}
}

// A reload that removes a breaker sends its Retired event while the suite's Levels still read
// it: an observer that reads the suite as the Retired arrives finds the breaker's state, and
// once Reload returns it is read no more. A scrape in between never finds the breaker gone
// with its Retired event still to come (promobs' Scrape would let its last event stand in for
// it, and count the later events of a call in flight through it).
func TestReloadSendsRetiredBeforeLevelsDropIt(t *testing.T) {
	const svc = "test.v1.RetiredReload"
	probe := &retiredProbe{}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}, interceptors.WithObserver(probe), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail) // the breaker opens

	key := [2]string{svc, ""}
	var (
		retired int
		states  map[[2]string]string
	)
	probe.set(func(e observe.Event) {
		if e.Policy != observe.PolicyBreaker || e.Service != svc {
			return
		}
		retired++
		states = breakerStates(s)
	})
	if err := s.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	if retired != 1 {
		t.Fatalf("the reload sent %d Retired events of the removed breaker, want 1", retired)
	}
	if got := states[key]; got != "open" {
		t.Errorf("at the removed breaker's Retired event, Levels read it %q, want open (read: %v)", got, states)
	}
	if got, ok := breakerStates(s)[key]; ok {
		t.Errorf("after the reload, Levels still read the removed breaker (%q)", got)
	}
}
