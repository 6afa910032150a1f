package breaker

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
)

// opensSeen counts the transitions to open that events stand for: each event's own (To ==
// open) and those folded into it (FoldedTrips, FoldedReopens).
func opensSeen(events []observe.Event) (opens, folded int) {
	for _, e := range events {
		if e.To == Open.String() {
			opens++
		}
		folded += int(e.FoldedTrips) + int(e.FoldedReopens)
	}
	return opens + folded, folded
}

// ownFrom is the from of event e's own transition, its last change: LastFrom, or From for an
// event of one change, which does not say.
func ownFrom(e observe.Event) string {
	if from := e.LastFrom.String(); from != "" {
		return from
	}
	return e.From
}

// opensSeenByFrom counts the trips and reopens that events stand for: each event's own open
// by the from of the change that made it (ownFrom), and those folded into it (FoldedTrips,
// FoldedReopens).
func opensSeenByFrom(events []observe.Event) (trips, reopens int) {
	for _, e := range events {
		trips += int(e.FoldedTrips)
		reopens += int(e.FoldedReopens)
		if e.To != Open.String() {
			continue
		}
		if ownFrom(e) == HalfOpen.String() {
			reopens++
		} else {
			trips++
		}
	}
	return trips, reopens
}

// A sink held in Observe while the breaker trips, probes and reopens more than
// maxQueuedChanges times sees fewer events than changes (they are folded), but their
// FoldedTrips and FoldedReopens carry the transitions to open folded away, so that a counter of
// opens (promobs' bulwark_breaker_transitions_total{to="open"}, the BulwarkBreakerTripping
// alert) counts every one the breaker made. Before the fix a fold such as closed → open →
// half_open read as closed → half_open, and its trip was lost.
func TestHeldSinkFoldedEventsCountEveryOpen(t *testing.T) {
	for _, changes := range []int{maxQueuedChanges - 1, maxQueuedChanges, maxQueuedChanges + 1, 5 * maxQueuedChanges, 5*maxQueuedChanges + 1, 40 * maxQueuedChanges} {
		t.Run(strconv.Itoa(changes)+" changes", func(t *testing.T) {
			log := &changeLog{}
			b, clk := newLogged(t, orderCfg, log)
			g := newGate()
			log.before = g.hold
			p := allowed(t, b)
			var wg sync.WaitGroup
			wg.Go(func() { p.Done(errFail) }) // closed → open, held.
			within.Recv(t, g.entered, "the trip's change did not reach the held sink")
			trips, reopens := 1, 0
			// One change a step: trips, the turn to half-open, probes that fail, succeed or
			// hang until the breaker gives up on them, and the operator's calls.
			for made := range changes {
				from := b.State()
				switch from {
				case Closed:
					if made%7 == 6 {
						b.ForceOpen()
					} else {
						allowed(t, b).Done(errFail)
					}
				case Open:
					clk.Advance(time.Minute)
					b.State()
				case HalfOpen:
					switch made % 5 {
					case 0, 3:
						allowed(t, b).Done(errFail)
					case 1:
						allowed(t, b).Done(nil)
					case 2, 4:
						allowed(t, b) // Stuck: given up on after HalfOpenMaxWait.
						clk.Advance(10 * time.Second)
						b.Stats()
					}
				case ForcedOpen:
					if made%2 == 0 {
						b.Disable()
					} else {
						b.Reset()
					}
				case Disabled:
					b.Reset()
				}
				to := b.State()
				if to == from {
					t.Fatalf("step %d made no change from %v", made, from)
				}
				if to == Open {
					if from == Closed {
						trips++
					} else {
						reopens++
					}
				}
			}
			close(g.release)
			within.Wait(t, &wg, "Done of the tripping call did not return once the sink was released")
			events := log.Events()
			assertChain(t, events, Closed, b.State())
			opens, folded := opensSeen(events)
			if opens != trips+reopens {
				t.Fatalf("the events stand for %d transitions to open (%d of them folded), the breaker made %d (%d trips, %d reopens)\nevents: %s", opens, folded, trips+reopens, trips, reopens, chain(events))
			}
			if gotTrips, gotReopens := opensSeenByFrom(events); gotTrips != trips || gotReopens != reopens {
				t.Fatalf("the events stand for %d trips and %d reopens, the breaker made %d and %d\nevents: %s", gotTrips, gotReopens, trips, reopens, chain(events))
			}
			lastFroms := 0
			for _, e := range events {
				if e.LastFrom != observe.LastFromShown {
					lastFroms++
				}
			}
			if changes < maxQueuedChanges && lastFroms != 0 || changes > maxQueuedChanges && lastFroms == 0 {
				t.Fatalf("%d changes, %d events, %d of them with a LastFrom: only a folded event has one, and %d changes fold some\nevents: %s", changes, len(events), lastFroms, changes, chain(events))
			}
			if changes < maxQueuedChanges && folded != 0 {
				t.Fatalf("%d changes, none folded, yet the events carry %d folded opens", changes, folded)
			}
		})
	}
}

// A held sink's folded event tells the from of its own, last, change (LastFrom), which its
// From, the first folded change's, does not: closed → open → half_open → open, folded into
// closed → open, is a trip (FoldedTrips 1) and a reopen (LastFrom half_open); closed → open
// → half_open, folded into closed → half_open, is a trip and an open → half_open (LastFrom
// open). Over seeded random walks, the operator's changes included, the events count the
// trips and reopens the breaker made, each by its from, and each event's own LastFrom → To
// (From → To for an event of one change) is a transition the breaker made, no more often
// than it made it.
func TestHeldSinkFoldedEventsTellTheirLastFrom(t *testing.T) {
	next := map[State][]State{
		Closed:     {Open, Open, Open, ForcedOpen, Disabled},
		Open:       {HalfOpen, HalfOpen, HalfOpen, ForcedOpen, Closed, Disabled},
		HalfOpen:   {Open, Open, Open, Closed, Closed, ForcedOpen, Disabled},
		ForcedOpen: {Closed, Disabled},
		Disabled:   {Closed, ForcedOpen},
	}
	// After the held trip, 15 changes back to closed fill the queue with the 16th, a trip;
	// open → half_open → open then fold into it (seed 0), or open → half_open alone (seed 1).
	fifteen := []State{HalfOpen, Closed, Open, HalfOpen, Closed, Open, HalfOpen, Closed, Open, HalfOpen, Closed, ForcedOpen, Closed, ForcedOpen, Closed}
	scripted := map[uint64]struct {
		path []State
		want observe.Event
	}{
		0: {append(slices.Clone(fifteen), Open, HalfOpen, Open), observe.Event{From: "closed", To: "open", LastFrom: observe.LastFromHalfOpen, FoldedTrips: 1}},
		1: {append(slices.Clone(fifteen), Open, HalfOpen), observe.Event{From: "closed", To: "half_open", LastFrom: observe.LastFromOpen, FoldedTrips: 1}},
	}
	for seed := range uint64(22) {
		path := scripted[seed].path
		if path == nil {
			rng := rand.New(rand.NewPCG(seed, 13))
			path = nil
			s := Open
			for range 40 + rng.IntN(200) {
				s = next[s][rng.IntN(len(next[s]))]
				path = append(path, s)
			}
		}
		t.Run("seed "+strconv.FormatUint(seed, 10), func(t *testing.T) {
			log := &changeLog{}
			b, clk := newLogged(t, orderCfg, log)
			g := newGate()
			log.before = g.hold
			p := allowed(t, b)
			var wg sync.WaitGroup
			release := sync.OnceFunc(func() {
				close(g.release)
				within.Wait(t, &wg, "Done of the tripping call did not return once the sink was released")
			})
			defer release()                   // Should a step fail.
			wg.Go(func() { p.Done(errFail) }) // closed → open, held.
			within.Recv(t, g.entered, "the trip's change did not reach the held sink")
			trips, reopens := 1, 0
			made := map[[2]string]int{{"closed", "open"}: 1}
			for i, to := range path {
				from := b.State()
				switch {
				case to == ForcedOpen:
					b.ForceOpen()
				case to == Disabled:
					b.Disable()
				case to == Closed && from != HalfOpen:
					b.Reset()
				case from == Closed && to == Open, from == HalfOpen && to == Open && i%2 == 0:
					allowed(t, b).Done(errFail)
				case from == HalfOpen && to == Open:
					allowed(t, b) // Stuck: given up on after HalfOpenMaxWait.
					clk.Advance(orderCfg.HalfOpenMaxWait)
					b.Stats()
				case from == HalfOpen && to == Closed:
					allowed(t, b).Done(nil)
				case from == Open && to == HalfOpen:
					clk.Advance(time.Minute)
					b.State()
				}
				if got := b.State(); got != to {
					t.Fatalf("step %d: %v → %v made %v", i, from, to, got)
				}
				made[[2]string{from.String(), to.String()}]++
				if to == Open && from == Closed {
					trips++
				} else if to == Open {
					reopens++
				}
			}
			release()
			events := log.Events()
			assertChain(t, events, Closed, b.State())
			if gotTrips, gotReopens := opensSeenByFrom(events); gotTrips != trips || gotReopens != reopens {
				t.Fatalf("the events stand for %d trips and %d reopens, the breaker made %d and %d\nevents: %s", gotTrips, gotReopens, trips, reopens, chain(events))
			}
			own := map[[2]string]int{}
			for _, e := range events {
				own[[2]string{ownFrom(e), e.To}]++
			}
			for pair, n := range own {
				if n > made[pair] {
					t.Fatalf("%d events show %s → %s as their own change (LastFrom, or From), the breaker made it %d times (made: %v)\nevents: %s", n, pair[0], pair[1], made[pair], made, chain(events))
				}
			}
			if s, ok := scripted[seed]; ok {
				last, want := events[len(events)-1], s.want
				if last.From != want.From || last.To != want.To || last.LastFrom != want.LastFrom || last.FoldedTrips != want.FoldedTrips || last.FoldedReopens != want.FoldedReopens {
					t.Fatalf("the folded event: %s → %s, LastFrom %q, FoldedTrips %d, FoldedReopens %d; want %s → %s, %q, %d, %d",
						last.From, last.To, last.LastFrom, last.FoldedTrips, last.FoldedReopens, want.From, want.To, want.LastFrom, want.FoldedTrips, want.FoldedReopens)
				}
			}
		})
	}
}
