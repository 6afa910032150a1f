package interceptors_test

import (
	"context"
	"fmt"
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
)

// panickySink records every event of its kind (Retired unless set) it is given ("breaker
// test.v1.RpA /test.v1.RpA/Do"), and panics ("sink: retired #n", n counted from 1) on the first
// panics of them after it records them.
type panickySink struct {
	mu     sync.Mutex
	kind   observe.Kind
	panics int
	seen   []string
}

func (p *panickySink) Observe(e observe.Event) {
	p.mu.Lock()
	kind := p.kind
	if kind == 0 {
		kind = observe.Retired
	}
	if e.Kind != kind {
		p.mu.Unlock()
		return
	}
	p.seen = append(p.seen, fmt.Sprintf("%s %s %s", e.Policy, e.Service, e.Method))
	n := len(p.seen)
	panics := p.panics
	p.mu.Unlock()
	if n <= panics {
		panic(fmt.Sprintf("sink: %s #%d", kind, n))
	}
}

// arm empties what p recorded and has it panic on the next panics Retired events.
func (p *panickySink) arm(panics int) {
	p.mu.Lock()
	p.panics, p.seen = panics, nil
	p.mu.Unlock()
}

// retired returns the events p recorded since arm (Retired, or its kind), sorted.
func (p *panickySink) retired() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(slices.Values(p.seen))
}

// retiredPanicCfg has two services, each with a breaker and a bulkhead of its own: level
// sources that a reload without them, and a Close, retire together.
func retiredPanicCfg(t *testing.T, services bool) *config.Config {
	t.Helper()
	src := "profiles:\n  p: {breaker: {consecutive_failures: 3}, bulkhead: {max_concurrent: 4}}\n"
	if services {
		src += "services:\n  test.v1.RpA: {profile: p, methods: {Do: {}}}\n  test.v1.RpB: {profile: p, methods: {Do: {}}}\n"
	}
	cfg, _, err := config.Parse("bulwark.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// retiredPanicSuite returns a suite of retiredPanicCfg observed by sink, through whose two
// methods a call went (their objects built), closed when t ends.
func retiredPanicSuite(t *testing.T, sink observe.Sink) *interceptors.Suite {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := interceptors.New(retiredPanicCfg(t, true), interceptors.WithObserver(sink), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	inv := &testkit.CountingInvoker{}
	for _, m := range []string{"/test.v1.RpA/Do", "/test.v1.RpB/Do"} {
		if err := s.Unary()(context.Background(), m, nil, nil, nil, inv.Invoke); err != nil {
			t.Fatalf("call of %s: %v", m, err)
		}
	}
	return s
}

// A sink that panics on one of the Retired events a reload or a Close sends (a sink's bug)
// still gets the Retired events of every other object retired with it, and the panic reaches
// the caller (the first, should the sink panic on more than one); a Close after a reload's
// panic, and a Close whose sink panicked, leave the suite reported closed. Before, the events
// after the panic were never sent, and an observer that keeps state by name (promobs) kept
// those objects' levels and states for ever.
func TestRetiredSinkPanicSendsTheOtherRetired(t *testing.T) {
	// What a sink that never panics gets, at the reload and at the Close.
	calm := &panickySink{}
	s := retiredPanicSuite(t, calm)
	calm.arm(0)
	if err := s.Reload(retiredPanicCfg(t, false)); err != nil {
		t.Fatal(err)
	}
	wantReload := calm.retired()
	if len(wantReload) < 3 {
		t.Fatalf("the reload retired %q, want the two services' breakers and bulkheads", wantReload)
	}
	calm = &panickySink{}
	s = retiredPanicSuite(t, calm)
	calm.arm(0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantClose := calm.retired()
	if len(wantClose) < 3 {
		t.Fatalf("the Close retired %q, want the two services' breakers and bulkheads", wantClose)
	}

	for _, panics := range []int{1, 2} {
		t.Run(fmt.Sprintf("reload, %d panics", panics), func(t *testing.T) {
			sink := &panickySink{}
			s := retiredPanicSuite(t, sink)
			sink.arm(panics)
			if r := recovered(func() { _ = s.Reload(retiredPanicCfg(t, false)) }); r != "sink: retired #1" {
				t.Errorf("the reload recovered %v, want the sink's first panic", r)
			}
			if got := sink.retired(); !slices.Equal(got, wantReload) {
				t.Errorf("Retired events of the reload whose sink panicked: %q, want every retired object's %q", got, wantReload)
			}
			sink.arm(0)
			if err := s.Close(); err != nil {
				t.Errorf("Close after the sink's panic: %v", err)
			}
			if !s.Closed() {
				t.Error("after the sink's panic and Close, the suite does not report itself closed")
			}
		})
		t.Run(fmt.Sprintf("close, %d panics", panics), func(t *testing.T) {
			sink := &panickySink{}
			s := retiredPanicSuite(t, sink)
			sink.arm(panics)
			if r := recovered(func() { _ = s.Close() }); r != "sink: retired #1" {
				t.Errorf("Close recovered %v, want the sink's first panic", r)
			}
			if got := sink.retired(); !slices.Equal(got, wantClose) {
				t.Errorf("Retired events of the Close whose sink panicked: %q, want every retired object's %q", got, wantClose)
			}
			if !s.Closed() {
				t.Error("after the Close whose sink panicked, the suite does not report itself closed")
			}
		})
	}
}

// The registry's Get makes two breakers, observed by a sink that panics on the first Retired;
// a suite sharing the registry, whose reload gives their names other settings, puts its own
// in their place: both Get-made breakers send their Retired (User.RetireReplaced), the panic
// reaches the reload's caller, and the suite closes. Before, the second sent none.
func TestRetireReplacedSinkPanicSendsTheOtherRetired(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	sink := &panickySink{}
	names := []string{"test.v1.Pub", "test.v1.Pub2"}
	for _, name := range names {
		if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk), breaker.WithObserver(sink)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := interceptors.New(&config.Config{}, interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	sink.arm(1)
	next := publishedCfg(t, "2", "  test.v1.Pub2: {profile: p, methods: {Do: {}}}\n")
	if r := recovered(func() { _ = s.Reload(next) }); r != "sink: retired #1" {
		t.Errorf("the reload recovered %v, want the sink's panic", r)
	}
	want := []string{"breaker test.v1.Pub ", "breaker test.v1.Pub2 "}
	if got := sink.retired(); !slices.Equal(got, want) {
		t.Errorf("Retired events of the breakers the reload replaced: %q, want %q", got, want)
	}
	for _, name := range names {
		if b, _ := reg.Lookup(name); b.Config().ConsecutiveFailures != 2 {
			t.Errorf("the registry's %s: %+v, want the reload's", name, b.Config())
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the sink's panic: %v", err)
	}
	if !s.Closed() {
		t.Error("after the sink's panic and Close, the suite does not report itself closed")
	}
}

// A sink that panics on the first BreakerPublished of a reload (a sink's bug) still gets the
// BreakerPublished of every other breaker the reload put in service, which no later reload
// would announce, and the panic reaches the reload's caller. Before, the breakers after the
// panic were never published, and an observer that keeps state by name (promobs) learnt their
// states only from their first change.
func TestPublishedSinkPanicPublishesTheOthers(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sink := &panickySink{kind: observe.BreakerPublished}
	s, err := interceptors.New(retiredPanicCfg(t, false), interceptors.WithObserver(sink), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	sink.arm(1)
	if r := recovered(func() { _ = s.Reload(retiredPanicCfg(t, true)) }); r != "sink: breaker_published #1" {
		t.Errorf("the reload recovered %v, want the sink's panic", r)
	}
	want := []string{"breaker test.v1.RpA ", "breaker test.v1.RpB "}
	if got := sink.retired(); !slices.Equal(got, want) {
		t.Errorf("BreakerPublished events of the reload whose sink panicked: %q, want %q", got, want)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the sink's panic: %v", err)
	}
	if !s.Closed() {
		t.Error("after the sink's panic and Close, the suite does not report itself closed")
	}
}

// A suite sharing a registry puts its breakers in place of two the registry's Get made, whose
// observer panics on their Retired (User.RetireReplaced): the suite's own sink still gets the
// BreakerPublished of the breakers the reload put in service, and the panic reaches the
// reload's caller. Before, the panic in RetireReplaced left them unpublished, for good.
func TestRetireReplacedSinkPanicStillPublishes(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	getSink, suiteSink := &panickySink{}, &panickySink{kind: observe.BreakerPublished}
	for _, name := range []string{"test.v1.RpA", "test.v1.RpB"} {
		if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk), breaker.WithObserver(getSink)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := interceptors.New(retiredPanicCfg(t, false), interceptors.WithObserver(suiteSink),
		interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	getSink.arm(1)
	suiteSink.arm(0)
	if r := recovered(func() { _ = s.Reload(retiredPanicCfg(t, true)) }); r != "sink: retired #1" {
		t.Errorf("the reload recovered %v, want the Get-made breakers' observer's panic", r)
	}
	want := []string{"breaker test.v1.RpA ", "breaker test.v1.RpB "}
	if got := getSink.retired(); !slices.Equal(got, want) {
		t.Errorf("Retired events of the breakers the reload replaced: %q, want %q", got, want)
	}
	if got := suiteSink.retired(); !slices.Equal(got, want) {
		t.Errorf("BreakerPublished events of the reload: %q, want %q", got, want)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the panic: %v", err)
	}
	if !s.Closed() {
		t.Error("after the panic and Close, the suite does not report itself closed")
	}
}
