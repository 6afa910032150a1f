package interceptors_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// heldPair returns two suites of publishedCfg(failures) sharing reg, with rec as their
// observer and clk as their clock, closed when t ends: both hold the breaker of test.v1.Pub.
func heldPair(t *testing.T, reg *breaker.Registry, rec *testkit.Recorder, clk *clocktest.Fake, failures string) (a, b *interceptors.Suite) {
	t.Helper()
	for _, s := range []**interceptors.Suite{&a, &b} {
		var err error
		if *s, err = interceptors.New(publishedCfg(t, failures, ""), interceptors.WithObserver(rec),
			interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = (*s).Close() })
	}
	return a, b
}

// Two suites share a registry and so the breaker of test.v1.Pub; the registry's Get puts
// another in its place, which both suites still call through. The first suite to let it go
// (a reload without it) sent its Retired while the other still called through it, so that
// observers dropped the state of a breaker still admitting or rejecting that suite's calls,
// and the second sent another. It is retired once, by the last suite to let it go.
func TestReplacedBreakerTwoSuitesHoldRetiredByTheLast(t *testing.T) {
	const name = "test.v1.Pub"
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	rec := &testkit.Recorder{}
	a, b := heldPair(t, reg, rec, clk, "1")
	old, _ := reg.Lookup(name)
	if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk), breaker.WithObserver(rec)); err != nil {
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, old.Instance()); n != 0 {
		t.Fatalf("Get's replacement sent %d Retired of a breaker two suites hold, want 0", n)
	}
	if err := a.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, old.Instance()); n != 0 {
		t.Errorf("the first suite to let the replaced breaker go sent %d Retired, want 0: the other suite still calls through it", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, old.Instance()); n != 1 {
		t.Errorf("once the last suite let the replaced breaker go, it sent %d Retired, want 1", n)
	}
}

// Two suites hold the breaker of test.v1.Pub; Get replaces it with another (of other
// settings, then of the suites' settings again), which no suite holds: one suite takes it at
// a reload of its unchanged configuration, and lets it go at the next. The registry kept one
// held breaker per name, the one the last hold took: when Get replaced the breaker the first
// suite had let go, it took it for the one the other suite still held, and the breaker was
// never retired. Each breaker is retired once.
func TestBreakerASuiteTookAndLetGoRetiredOnceReplaced(t *testing.T) {
	const name = "test.v1.Pub"
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	rec := &testkit.Recorder{}
	a, b := heldPair(t, reg, rec, clk, "1")
	first, _ := reg.Lookup(name)
	between, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk), breaker.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	second, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 1}, breaker.WithClock(clk), breaker.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, between.Instance()); n != 1 {
		t.Errorf("the breaker Get replaced, which no suite held, sent %d Retired, want 1", n)
	}
	if err := a.Reload(publishedCfg(t, "1", "")); err != nil { // a takes second
		t.Fatal(err)
	}
	if held, _ := reg.Lookup(name); held != second {
		t.Fatalf("after a's reload the registry holds %d, want Get's %d, which a took", held.Instance(), second.Instance())
	}
	if err := a.Reload(&config.Config{}); err != nil { // and lets it go: the registry holds it
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, second.Instance()); n != 0 {
		t.Fatalf("the breaker the registry still holds sent %d Retired, want 0", n)
	}
	if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 2}, breaker.WithClock(clk), breaker.WithObserver(rec)); err != nil {
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, second.Instance()); n != 1 {
		t.Errorf("Get replaced a breaker no suite holds any more, which sent %d Retired, want 1", n)
	}
	if n, _ := retiredOf(rec, first.Instance()); n != 0 {
		t.Errorf("the first breaker, which the other suite still calls through, sent %d Retired, want 0", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, br := range []*breaker.Breaker{first, between, second} {
		if n, _ := retiredOf(rec, br.Instance()); n != 1 {
			t.Errorf("breaker %d sent %d Retired in all, want 1", br.Instance(), n)
		}
	}
}

// A suite sharing a registry closes while the registry holds its breaker: not the suite's to
// retire. Its sink, given the Retired of the suite's bulkhead, asks the registry for the name
// with other settings (as the registry interceptors' first call of another configuration
// would, at that moment). Close decided not to retire the breaker before it let go of its
// hold, and Get, which found the hold, did not retire it either: it was never retired. The
// hold is let go with the decision, so Get retires it, once.
func TestBreakerReplacedDuringCloseRetiredOnce(t *testing.T) {
	const name = "test.v1.Pub"
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	rec := &testkit.Recorder{}
	replaced := false
	sink := observe.SinkFunc(func(e observe.Event) {
		rec.Observe(e)
		if e.Kind == observe.Retired && e.Policy == observe.PolicyBulkhead && !replaced {
			replaced = true
			if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk), breaker.WithObserver(rec)); err != nil {
				t.Error(err)
			}
		}
	})
	a, err := interceptors.New(publishedCfg(t, "1", "  test.v1.Bh: {profile: p, bulkhead: {max_concurrent: 2}, methods: {Do: {}}}\n"),
		interceptors.WithObserver(sink), interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := reg.Lookup(name)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !replaced {
		t.Fatal("the sink saw no bulkhead's Retired")
	}
	if n, _ := retiredOf(rec, old.Instance()); n != 1 {
		t.Errorf("the breaker Get replaced during Close sent %d Retired, want 1", n)
	}
}
