package interceptors_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
)

// A sink that panics at a reload's BreakerPublished (a sink's bug), after the reload's Retired
// events went out, leaves the reload counted among those sending no longer: a Close that came
// while it was held sends no Retired event to the sink that has just panicked and reports the
// suite closed once the panic went by, as after a first call's or a reload's Retired whose
// sink panicked; a Close after the panic sends its Retired events and reports the suite
// closed. Before, the reload counted its events sent once its Retired events were, and the
// queued Close sent its own during the panic.
func TestReloadPublishedSinkPanicLetsCloseFinish(t *testing.T) {
	for _, during := range []bool{true, false} {
		t.Run(fmt.Sprintf("close during %v", during), func(t *testing.T) {
			sink := &heldSink{}
			s := firstCallSuite(t, sink)
			// test.v1.Pub's breaker takes other settings: the reload retires the old one,
			// then publishes its replacement.
			next := publishedCfg(t, "3", "")
			closeAroundSinkPanic(t, s, sink, during, "the reload", "retired test.v1.PubM /test.v1.PubM/Do", func() { _ = s.Reload(next) }, func(got []string) {
				if reloadRetired := []string{"retired test.v1.Pub "}; !slices.Equal(got, reloadRetired) {
					t.Errorf("events up to the sink's panic: %q, want the reload's Retired alone (%q), none of the queued Close's", got, reloadRetired)
				}
			})
		})
	}
}

// A sink that panics at a reload's Retired (a sink's bug) still gets the BreakerPublished of
// the breaker the reload put in service, as after a first call's Retired (the suite announces
// a breaker once, at the build that took it: no later reload would), and a Close after it
// sends its Retired events and reports the suite closed. Before, the reload's BreakerPublished
// events were not sent after a panic on its Retired, ever.
func TestReloadRetiredSinkPanicStillPublishes(t *testing.T) {
	sink := &heldSink{}
	s := firstCallSuite(t, sink)
	sink.set(observe.Retired, func() { panic("sink: Retired") })
	func() {
		defer func() {
			if r := recover(); r != "sink: Retired" {
				t.Fatalf("the reload recovered %v, want the sink's panic", r)
			}
		}()
		_ = s.Reload(publishedCfg(t, "3", "")) // test.v1.Pub's breaker replaced
	}()
	published := []string{"published test.v1.Pub "}
	if got := sink.events(); !slices.Equal(got, published) {
		t.Errorf("events after the sink's panic at the reload's Retired: %q, want the replacement's BreakerPublished (%q)", got, published)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the sink's panic: %v", err)
	}
	if got := sink.events(); !slices.Contains(got, "retired test.v1.Pub ") {
		t.Errorf("Close after the sink's panic sent %q, want test.v1.Pub's Retired among them", got)
	}
	if !s.Closed() {
		t.Error("after the sink's panic and Close, the suite does not report itself closed")
	}
}
