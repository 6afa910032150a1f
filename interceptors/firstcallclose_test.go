package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// heldSink is a sink that records the breakers' BreakerPublished and Retired events in the
// order they arrive ("published test.v1.PubM /test.v1.PubM/Other") since set, and runs at
// (once) at the first event of kind hold, before recording it.
type heldSink struct {
	mu   sync.Mutex
	seen []string
	hold observe.Kind
	at   func()
}

func (h *heldSink) Observe(e observe.Event) {
	if e.Policy != observe.PolicyBreaker || (e.Kind != observe.BreakerPublished && e.Kind != observe.Retired) {
		return
	}
	h.mu.Lock()
	var f func()
	if e.Kind == h.hold {
		f, h.at = h.at, nil
	}
	h.mu.Unlock()
	if f != nil {
		f()
	}
	word := "retired"
	if e.Kind == observe.BreakerPublished {
		word = "published"
	}
	h.mu.Lock()
	h.seen = append(h.seen, fmt.Sprintf("%s %s %s", word, e.Service, e.Method))
	h.mu.Unlock()
}

func (h *heldSink) set(hold observe.Kind, at func()) {
	h.mu.Lock()
	h.hold, h.at, h.seen = hold, at, nil
	h.mu.Unlock()
}

// closeWhileHeld runs op on a goroutine and, once sink holds op's first event of kind (op must
// send one), Close on another; once Close returned it reads whether the suite reports itself
// closed, then lets the sink go and waits for op. It returns that reading and op's error.
func closeWhileHeld(t *testing.T, s *interceptors.Suite, sink *heldSink, kind observe.Kind, op func() error) (closedEarly bool, opErr error) {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	sink.set(kind, func() {
		close(entered)
		<-release
	})
	done := make(chan error, 1)
	go func() { done <- op() }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	closedEarly = s.Closed()
	close(release)
	return closedEarly, <-done
}

func (h *heldSink) events() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// firstCallOther is a method of test.v1.PubM (breakers of scope method) that publishedCfg does
// not list: its chain, and its breaker, are built on its first call.
const firstCallOther = "/test.v1.PubM/Other"

// firstCallSuite returns a suite of publishedCfg observed by sink (and its breakers built at
// New published), closed when t ends.
func firstCallSuite(t *testing.T, sink observe.Sink) *interceptors.Suite {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := interceptors.New(publishedCfg(t, "2", ""), interceptors.WithObserver(sink), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A Close that comes while a first call's build sends its BreakerPublished (the observer holds
// it, after the build let the suite's lock go) sends its own Retired events after it, and the
// suite reports itself closed only then: a consumer that drops a closed suite (promobs'
// Scrape) never gets a BreakerPublished of a suite it dropped, nor an observer the breaker's
// Retired before its BreakerPublished. Before, Close found no one sending, sent its Retired
// events at once and reported the suite closed, and the BreakerPublished came after.
func TestCloseDuringFirstCallPublishedKeepsTheOrder(t *testing.T) {
	sink := &heldSink{}
	s := firstCallSuite(t, sink)
	closedEarly, err := closeWhileHeld(t, s, sink, observe.BreakerPublished, func() error {
		inv := &testkit.CountingInvoker{}
		return s.Unary()(context.Background(), firstCallOther, nil, nil, nil, inv.Invoke)
	})
	if err != nil {
		t.Fatalf("the first call of %s: %v", firstCallOther, err)
	}
	if closedEarly {
		t.Error("Close returned with the first call's BreakerPublished still to come, and the suite reported itself closed")
	}
	checkPublishedThenRetired(t, sink.events())
	if !s.Closed() {
		t.Error("once the first call's BreakerPublished and the Close's Retired events are sent, the suite does not report itself closed")
	}
}

// checkPublishedThenRetired fails t unless got, the events since a first call of
// firstCallOther, is its breaker's BreakerPublished, then the Close's Retired events, its
// breaker's among them.
func checkPublishedThenRetired(t *testing.T, got []string) {
	t.Helper()
	published, retired := "published test.v1.PubM "+firstCallOther, "retired test.v1.PubM "+firstCallOther
	ok := len(got) > 1 && got[0] == published && slices.Contains(got, retired)
	for _, e := range got[min(1, len(got)):] {
		ok = ok && strings.HasPrefix(e, "retired ")
	}
	if !ok {
		t.Errorf("events since the first call: %q, want %q first, then the Close's Retired events (%q among them)", got, published, retired)
	}
}

// A sink that panics at a first call's BreakerPublished (a sink's bug) leaves the first call
// counted among those sending no longer: a Close that came while it was held reports the
// suite closed once the panic went by (its Retired events unsent, as after a reload whose
// sink panicked), and a Close after it sends its Retired events and reports the suite closed,
// not left waiting for a send that will never end.
func TestFirstCallPublishedSinkPanicLetsCloseFinish(t *testing.T) {
	for _, during := range []bool{true, false} {
		t.Run(fmt.Sprintf("close during %v", during), func(t *testing.T) {
			sink := &heldSink{}
			s := firstCallSuite(t, sink)
			closeAroundSinkPanic(t, s, sink, during, "the first call", "retired test.v1.PubM "+firstCallOther, func() {
				inv := &testkit.CountingInvoker{}
				_ = s.Unary()(context.Background(), firstCallOther, nil, nil, nil, inv.Invoke)
			}, nil)
		})
	}
}

// closeAroundSinkPanic runs op (what, in messages), whose sink panics at its first
// BreakerPublished (a sink's bug), held until a Close, when during, has returned without the
// suite reporting itself closed. It checks that op's goroutine recovers the sink's panic, that
// a Close after the panic (when not during) sends wantRetired among its Retired events, and
// that the suite then reports itself closed and refuses a Reload. check, when not nil, gets
// the events the sink saw up to the panic.
func closeAroundSinkPanic(t *testing.T, s *interceptors.Suite, sink *heldSink, during bool, what, wantRetired string, op func(), check func(got []string)) {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	sink.set(observe.BreakerPublished, func() {
		close(entered)
		<-release
		panic("sink: BreakerPublished")
	})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		op()
	}()
	<-entered
	if during {
		if err := s.Close(); err != nil {
			t.Errorf("Close while %s's BreakerPublished was held: %v", what, err)
		}
		if s.Closed() {
			t.Errorf("Close returned with %s's BreakerPublished still to come, and the suite reported itself closed", what)
		}
	}
	close(release)
	if r := <-recovered; r != "sink: BreakerPublished" {
		t.Fatalf("%s recovered %v, want the sink's panic", what, r)
	}
	if check != nil {
		check(sink.events())
	}
	if !during {
		if err := s.Close(); err != nil {
			t.Errorf("Close after the sink's panic: %v", err)
		}
		if got := sink.events(); !slices.Contains(got, wantRetired) {
			t.Errorf("Close after the sink's panic sent %q, want %q among them", got, wantRetired)
		}
	}
	if !s.Closed() {
		t.Error("after the sink's panic and Close, the suite does not report itself closed")
	}
	if err := s.Reload(publishedCfg(t, "2", "")); !errors.Is(err, interceptors.ErrClosed) {
		t.Errorf("Reload after Close: %v, want ErrClosed", err)
	}
}

// A sink that calls Close from its Observe, at a first call's BreakerPublished, does not
// deadlock: the Close returns at once, the suite not yet reported closed, and its Retired
// events come after the BreakerPublished.
func TestCloseFromSinkAtFirstCallPublished(t *testing.T) {
	sink := &heldSink{}
	s := firstCallSuite(t, sink)
	var (
		closeErr    error
		closedEarly bool
	)
	sink.set(observe.BreakerPublished, func() {
		closeErr = s.Close()
		closedEarly = s.Closed()
	})
	inv := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), firstCallOther, nil, nil, nil, inv.Invoke); err != nil {
		t.Fatalf("the first call of %s: %v", firstCallOther, err)
	}
	if closeErr != nil {
		t.Errorf("Close from the sink: %v", closeErr)
	}
	if closedEarly {
		t.Error("Close called from the sink at the first call's BreakerPublished left the suite reported closed at once")
	}
	checkPublishedThenRetired(t, sink.events())
	if !s.Closed() {
		t.Error("after the first call's BreakerPublished and the Close's Retired events, the suite does not report itself closed")
	}
}

// A suite shares a registry; a reload keeps the breaker of firstCallOther, which the suite
// holds, and the registry's Delete forgets it: the next first call of firstCallOther retires
// the old breaker (see TestFirstCallReplacingHeldBreakerRetiresIt). A Close that comes while
// that Retired is held does not report the suite closed before it, and the replacement's
// BreakerPublished, are sent.
func TestCloseDuringFirstCallRetiredKeepsTheOrder(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	sink := &heldSink{}
	s, err := interceptors.New(publishedCfg(t, "1", ""), interceptors.WithObserver(sink),
		interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	inv := &testkit.CountingInvoker{}
	call := func() error { return s.Unary()(context.Background(), firstCallOther, nil, nil, nil, inv.Invoke) }
	if err := call(); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(publishedCfg(t, "1", "")); err != nil {
		t.Fatal(err)
	}
	reg.Delete(firstCallOther)
	closedEarly, err := closeWhileHeld(t, s, sink, observe.Retired, call)
	if err != nil {
		t.Fatalf("the first call of %s after the Delete: %v", firstCallOther, err)
	}
	if closedEarly {
		t.Error("Close returned with the first call's Retired and BreakerPublished still to come, and the suite reported itself closed")
	}
	retired, published := "retired test.v1.PubM "+firstCallOther, "published test.v1.PubM "+firstCallOther
	if got := sink.events(); len(got) < 2 || got[0] != retired || got[1] != published {
		t.Errorf("events since the first call after the Delete: %q, want %q, then %q, then the Close's", got, retired, published)
	}
	if !s.Closed() {
		t.Error("once the first call's events and the Close's are sent, the suite does not report itself closed")
	}
}
