package promobs_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"google.golang.org/grpc/status"

	grpccodes "google.golang.org/grpc/codes"
)

// heldSink passes every event on to next, but holds the first BreakerStateChanged in Observe
// until release is closed (a sink behind a blocked writer), telling entered when it holds it.
type heldSink struct {
	next             observe.Sink
	once             sync.Once
	entered, release chan struct{}
}

func (h *heldSink) Observe(e observe.Event) {
	if e.Kind == observe.BreakerStateChanged {
		h.once.Do(func() {
			close(h.entered)
			<-h.release
		})
	}
	h.next.Observe(e)
}

// A breaker whose sink is held while it trips and reopens more often than its queue of 16
// changes holds folds the changes made meanwhile into fewer events; the to="open" series of
// bulwark_breaker_transitions_total still count every open it made (the folded ones in their
// own from's series), so BulwarkBreakerTripping sees them. Before, a fold such as closed → open → half_open counted
// closed → half_open alone, and to="open" fell short of the opens made.
func TestHeldSinkCountsEveryOpen(t *testing.T) {
	const svc = "test.v1.FoldedOpens"
	m, reg := newMetrics(t)
	sink := &heldSink{next: m, entered: make(chan struct{}), release: make(chan struct{})}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	br, err := breaker.New(svc, breaker.Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: time.Second, RecoveryTimeout: time.Minute},
		breaker.WithClock(clk), breaker.WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	fail := status.Error(grpccodes.Unavailable, "down")
	allowed := func() breaker.Permit {
		t.Helper()
		p, err := br.Allow()
		if err != nil {
			t.Fatalf("Allow in %v: %v", br.State(), err)
		}
		return p
	}

	p := allowed()
	var wg sync.WaitGroup
	wg.Go(func() { p.Done(fail) }) // closed → open, held in Observe.
	<-sink.entered
	opens, changes := 1, 1
	// Trips, turns to half-open, probes that fail (reopen) or succeed (close): 60 changes, a
	// third of them to open, while the first waits.
	for step := 0; changes < 61; step++ {
		from := br.State()
		switch from {
		case breaker.Closed:
			allowed().Done(fail)
		case breaker.Open:
			clk.Advance(time.Minute)
			br.State()
		case breaker.HalfOpen:
			if step%3 == 2 {
				allowed().Done(nil)
			} else {
				allowed().Done(fail)
			}
		}
		to := br.State()
		if to == from {
			t.Fatalf("step %d made no change from %v", step, from)
		}
		changes++
		if to == breaker.Open {
			opens++
		}
	}
	close(sink.release)
	wg.Wait()

	got := 0.0
	for series, v := range scrape(t, reg, promobs.NameBreakerTransitions) {
		if strings.Contains(series, `to="open"`) {
			got += v
		}
	}
	if got != float64(opens) {
		t.Fatalf(`bulwark_breaker_transitions_total{to="open"} adds up to %v, the breaker opened %d times in %d changes`, got, opens, changes)
	}
	if sc := br.Stats().StateChanges; sc != uint64(changes) {
		t.Fatalf("Stats.StateChanges = %d, want %d", sc, changes)
	}
}
