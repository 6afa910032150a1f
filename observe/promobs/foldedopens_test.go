package promobs_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit/breakerwalk"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
)

// A breaker whose sink is held while it trips and reopens more often than its queue of 16
// changes holds folds the changes made meanwhile into fewer events; the to="open" series of
// bulwark_breaker_transitions_total still count every open it made (the folded ones in their
// own from's series), so BulwarkBreakerTripping sees them. Before, a fold such as closed → open → half_open counted
// closed → half_open alone, and to="open" fell short of the opens made.
func TestHeldSinkCountsEveryOpen(t *testing.T) {
	const svc = "test.v1.FoldedOpens"
	m, reg := newMetrics(t)
	r := breakerwalk.NewRig(t, m, svc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	br, clk, sink, allowed, fail := r.Breaker, r.Clock, r.Sink, r.Allowed, breakerwalk.Fail
	p := allowed()
	var wg sync.WaitGroup
	wg.Go(func() { p.Done(fail) }) // closed → open, held in Observe.
	<-sink.Entered
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
	close(sink.Release)
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

// transitionsShown returns the value of each bulwark_breaker_transitions_total series, by its
// from and to labels.
func transitionsShown(t *testing.T, reg *prometheus.Registry) map[breakerwalk.Pair]float64 {
	t.Helper()
	label := func(series, name string) string {
		v := series[strings.Index(series, name+`="`)+len(name)+2:]
		return v[:strings.IndexByte(v, '"')]
	}
	shown := map[breakerwalk.Pair]float64{}
	for series, v := range scrape(t, reg, promobs.NameBreakerTransitions) {
		shown[breakerwalk.Pair{label(series, "from"), label(series, "to")}] += v
	}
	return shown
}

// assertOpensByFrom checks each from-series of bulwark_breaker_transitions_total{to="open"}
// against the opens the breaker made from that state.
func assertOpensByFrom(t *testing.T, reg *prometheus.Registry, made map[breakerwalk.Pair]int) {
	t.Helper()
	got, want := map[string]float64{}, map[string]int{}
	for tr, v := range transitionsShown(t, reg) {
		if tr[1] == "open" {
			got[tr[0]] += v
		}
	}
	for tr, n := range made {
		if tr[1] == "open" {
			want[tr[0]] += n
		}
	}
	for _, from := range []string{"closed", "open", "half_open", "forced_open", "disabled"} {
		if g, w := got[from], float64(want[from]); g != w {
			t.Errorf(`bulwark_breaker_transitions_total{from=%q,to="open"} = %v, the breaker opened from %s %v times (all opens by from: got %v, made %v)`,
				from, g, from, w, got, want)
		}
	}
}

// A breaker whose held sink folds several changes into one event counts the transition that
// event shows in the series of its last change, not of the event's From (the first folded
// change's): closed → open → half_open → open, folded into one closed → open, is one trip and
// one reopen, not two trips; half_open → closed → open, folded into half_open → open, is a
// trip; closed → open → half_open, folded into closed → half_open, is a trip and an open →
// half_open, not a closed → half_open the breaker never made. Each from-series of to="open"
// counts the trips and reopens the breaker made, whatever was folded, every other series a
// transition the breaker made, at most as often, and so does a seeded random walk over every
// transition the breaker makes, the operator's included.
func TestHeldSinkCountsOpensInTheirFromSeries(t *testing.T) {
	o, c, h, f, d := breaker.Open, breaker.Closed, breaker.HalfOpen, breaker.ForcedOpen, breaker.Disabled
	// The first change (a trip) is held; the 16 after it wait in the breaker's queue, and those
	// after them fold into the 16th.
	fifteenToClosed := []breaker.State{h, c, o, h, c, o, h, c, o, h, c, f, c, f, c}
	fifteenToHalfOpen := []breaker.State{h, o, h, o, h, o, h, o, h, o, h, o, h, o, h}
	fifteenToReopen := []breaker.State{f, c, o, h, o, h, o, h, o, h, o, h, o, h, o}
	paths := map[string][]breaker.State{
		"closed → open → half_open → open folded":             append(append([]breaker.State{o}, fifteenToClosed...), o, h, o),
		"half_open → closed → open folded":                    append(append([]breaker.State{o}, fifteenToHalfOpen...), c, o),
		"half_open → open → half_open → closed → open folded": append(append([]breaker.State{o}, fifteenToReopen...), h, c, o),
		"half_open → open → half_open → open folded":          append(append([]breaker.State{o}, fifteenToHalfOpen...), o, h, o),
		"closed → open → half_open folded":                    append(append([]breaker.State{o}, fifteenToClosed...), o, h),
		"half_open → closed → open → half_open folded":        append(append([]breaker.State{o}, fifteenToHalfOpen...), c, o, h),
		"closed → forced_open → disabled → closed folded":     append(append([]breaker.State{o}, fifteenToClosed...), f, d, c),
		"half_open → disabled → forced_open folded":           append(append([]breaker.State{o}, fifteenToHalfOpen...), d, f),
	}
	for seed := range uint64(20) {
		paths["seed "+strconv.FormatUint(seed, 10)] = breakerwalk.RandomPath(rand.New(rand.NewPCG(seed, 11)))
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			m, reg := newMetrics(t)
			made := breakerwalk.Walk(t, m, "test.v1.FoldedFrom", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), path)
			assertOpensByFrom(t, reg, made)
			assertPairsMade(t, reg, made)
		})
	}
}

// assertPairsMade checks that every bulwark_breaker_transitions_total series counts a
// transition the breaker made, and no more often than it made it: a held sink's folded event
// counts its own last change (from observe.Event.LastFrom to its To), not From → To, a pair
// the breaker may never have made.
func assertPairsMade(t *testing.T, reg *prometheus.Registry, made map[breakerwalk.Pair]int) {
	t.Helper()
	for tr, v := range transitionsShown(t, reg) {
		if v > float64(made[tr]) {
			t.Errorf(`bulwark_breaker_transitions_total{from=%q,to=%q} = %v, the breaker made %s → %s %d times (made: %v)`,
				tr[0], tr[1], v, tr[0], tr[1], made[tr], made)
		}
	}
}
