package breaker

import (
	"strconv"
	"sync"
	"testing"
	"time"

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
			<-g.entered
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
			wg.Wait()
			events := log.Events()
			assertChain(t, events, Closed, b.State())
			opens, folded := opensSeen(events)
			if opens != trips+reopens {
				t.Fatalf("the events stand for %d transitions to open (%d of them folded), the breaker made %d (%d trips, %d reopens)\nevents: %s", opens, folded, trips+reopens, trips, reopens, chain(events))
			}
			if changes < maxQueuedChanges && folded != 0 {
				t.Fatalf("%d changes, none folded, yet the events carry %d folded opens", changes, folded)
			}
		})
	}
}
