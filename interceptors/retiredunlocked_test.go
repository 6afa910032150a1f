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

// A suite's reload puts its new breaker of test.v1.Pub in place of the one it made earlier and
// let go (the registry kept it, no suite holds it): the registry retires the old one. It sent
// that Retired from the commit, under the suite's lock and the registry's build lock, and a
// sink that calls back into the suite from Observe (here Closed, which the suite allows: its
// sink is never called under its locks) waited for itself: the reload never returned. The
// Retired is sent once the reload let its locks go, once, before the new breaker's
// BreakerPublished.
func TestRegistryRetiredOfAReloadSentOutsideTheSuiteLocks(t *testing.T) {
	const name = "test.v1.Pub"
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	rec := &testkit.Recorder{}
	var s *interceptors.Suite
	sink := observe.SinkFunc(func(e observe.Event) {
		rec.Observe(e)
		if e.Kind == observe.Retired && s != nil {
			_ = s.Closed() // calls back into the suite
		}
	})
	s, err := interceptors.New(publishedCfg(t, "1", ""), interceptors.WithObserver(sink),
		interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	// Closed at the end, not by a Cleanup: a reload that never returns holds the suite's lock.
	old, _ := reg.Lookup(name)
	if err := s.Reload(&config.Config{}); err != nil { // lets it go; the registry keeps it
		_ = s.Close()
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, old.Instance()); n != 0 {
		_ = s.Close()
		t.Fatalf("the breaker the registry keeps sent %d Retired, want 0", n)
	}
	done := make(chan error, 1)
	go func() { done <- s.Reload(publishedCfg(t, "2", "")) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reload that replaced the breaker did not return within 5s: its sink, called under the suite's lock, waits for it")
	}
	defer s.Close()
	n, at := retiredOf(rec, old.Instance())
	if n != 1 {
		t.Fatalf("the replaced breaker sent %d Retired, want 1", n)
	}
	put, _ := reg.Lookup(name)
	if p := publishedAt(rec, put.Instance()); p < 0 || at > p {
		t.Errorf("the replaced breaker's Retired is event %d, its replacement's BreakerPublished %d: want the Retired first", at, p)
	}
}
