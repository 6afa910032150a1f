package breaker

import (
	"math/rand/v2"
	"testing"
)

// The queue a held sink leaves unsent counts the transitions to open it folds by where they
// came from, the folds that cancel out (x → y → x) included: a random walk over the breaker's
// transitions, pushed with no sink sending, then popped, adds up to the walk's trips (closed →
// open) and reopens (half_open → open), the last change of each queued one counted by its own
// from (lastFrom), the others in trips and reopens.
func TestChangeQueueFoldCountsOpensByFrom(t *testing.T) {
	next := map[State][]State{
		Closed:     {Open, Open, Open, ForcedOpen, Disabled},
		Open:       {HalfOpen, HalfOpen, HalfOpen, ForcedOpen, Closed, Disabled},
		HalfOpen:   {Open, Open, Open, Closed, ForcedOpen, Disabled},
		ForcedOpen: {Closed, Disabled},
		Disabled:   {Closed, ForcedOpen},
	}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var q changeQueue
		state, trips, reopens := Closed, 0, 0
		steps := 1 + rng.IntN(300)
		for range steps {
			to := next[state][rng.IntN(len(next[state]))]
			switch {
			case to == Open && state == Closed:
				trips++
			case to == Open:
				reopens++
			}
			q.push(change{from: state, to: to, reason: "r"})
			state = to
		}
		gotTrips, gotReopens, prev := 0, 0, Closed
		for c, ok := q.pop(); ok; c, ok = q.pop() {
			if c.from != prev {
				t.Fatalf("seed %d: change %v → %v after one to %v", seed, c.from, c.to, prev)
			}
			prev = c.to
			gotTrips += int(c.trips)
			gotReopens += int(c.reopens)
			if c.to == Open {
				if c.lastFrom == Closed {
					gotTrips++
				} else {
					gotReopens++
				}
			}
		}
		if prev != state {
			t.Fatalf("seed %d: the queue ends at %v, the walk at %v", seed, prev, state)
		}
		if gotTrips != trips || gotReopens != reopens {
			t.Fatalf("seed %d, %d steps: the queue counts %d trips and %d reopens, the walk made %d and %d", seed, steps, gotTrips, gotReopens, trips, reopens)
		}
	}
}

// The folded counts stop at 65535 rather than wrap around to a few.
func TestChangeFoldCountsSaturate(t *testing.T) {
	c := change{from: Closed, to: Open, lastFrom: Closed, trips: 65534, reopens: 65535}
	c.then(change{from: Open, to: HalfOpen, lastFrom: Open, trips: 3, reopens: 1})
	if c.trips != 65535 || c.reopens != 65535 {
		t.Fatalf("trips, reopens = %d, %d, want 65535, 65535", c.trips, c.reopens)
	}
	if c.from != Closed || c.to != HalfOpen || c.lastFrom != Open {
		t.Fatalf("folded change %v → %v (last from %v), want closed → half_open (last from open)", c.from, c.to, c.lastFrom)
	}
}
