// Package breakerwalk drives a real circuit breaker along a chosen path of states while its
// observer's sink is held, so that the breaker folds changes into fewer events: what the
// tests of the breaker's observers (promobs, zapobs) check their counts against. It is for
// tests only. (Apart from internal/testkit, which the breaker's own tests import.)
package breakerwalk

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Pair is a transition, its from and to as observe.Event spells them.
type Pair [2]string

// HeldSink passes every event on to Next, but holds the first BreakerStateChanged in Observe
// until Release is closed (a sink behind a blocked writer), closing Entered when it holds it.
type HeldSink struct {
	Next             observe.Sink
	once             sync.Once
	Entered, Release chan struct{}
}

// NewHeldSink returns a HeldSink in front of next.
func NewHeldSink(next observe.Sink) *HeldSink {
	return &HeldSink{Next: next, Entered: make(chan struct{}), Release: make(chan struct{})}
}

// Observe implements observe.Sink.
func (h *HeldSink) Observe(e observe.Event) {
	if e.Kind == observe.BreakerStateChanged {
		h.once.Do(func() {
			close(h.Entered)
			<-h.Release
		})
	}
	h.Next.Observe(e)
}

// Fail is the error a Rig's failed calls end with: transient, so that it trips the breaker.
var Fail = status.Error(grpccodes.Unavailable, "down")

// MaxWait is a Rig's breaker's HalfOpenMaxWait: how long a probe that never reports holds its
// slot before the breaker gives up on it and opens again.
const MaxWait = 10 * time.Second

// Rig is a breaker whose observer's sink is held from its first change on: one failure trips
// it, it half-opens a second after a trip (a minute at most), one probe at a time, each given
// up on after MaxWait.
type Rig struct {
	Breaker *breaker.Breaker
	Clock   *clocktest.Fake
	Sink    *HeldSink
	t       testing.TB
}

// NewRig returns a Rig of service, its sink a HeldSink in front of next, its clock at start.
func NewRig(t testing.TB, next observe.Sink, service string, start time.Time) *Rig {
	t.Helper()
	r := &Rig{Clock: clocktest.New(start), Sink: NewHeldSink(next), t: t}
	br, err := breaker.New(service, breaker.Config{ConsecutiveFailures: 1, HalfOpenMaxCalls: 1,
		HalfOpenMaxWait: MaxWait, InitialRecoveryTimeout: time.Second, RecoveryTimeout: time.Minute},
		breaker.WithClock(r.Clock), breaker.WithObserver(r.Sink))
	if err != nil {
		t.Fatal(err)
	}
	r.Breaker = br
	return r
}

// Allowed returns a permit of the Rig's breaker, failing the test when it refuses.
func (r *Rig) Allowed() breaker.Permit {
	r.t.Helper()
	p, err := r.Breaker.Allow()
	if err != nil {
		r.t.Fatalf("Allow in %v: %v", r.Breaker.State(), err)
	}
	return p
}

// Walk drives a Rig's breaker (see NewRig), whose sink is held from its first change on,
// along path (the states it moves to, one change each, the first a trip from closed), then
// releases the sink and waits for the held change. It returns the transitions the breaker
// made, each pair with the times it made it.
func Walk(t testing.TB, next observe.Sink, service string, start time.Time, path []breaker.State) map[Pair]int {
	t.Helper()
	r := NewRig(t, next, service, start)
	br, clk, sink, allowed, fail := r.Breaker, r.Clock, r.Sink, r.Allowed, Fail
	var wg sync.WaitGroup
	release := sync.OnceFunc(func() { close(sink.Release); wg.Wait() })
	defer release() // Should a step fail.
	made := map[Pair]int{}
	for i, to := range path {
		from := br.State()
		switch {
		case to == breaker.ForcedOpen:
			br.ForceOpen()
		case to == breaker.Disabled:
			br.Disable()
		case to == breaker.Closed && from != breaker.HalfOpen:
			br.Reset()
		case from == breaker.Closed && to == breaker.Open:
			p := allowed()
			if i == 0 { // The first change: its event is held in Observe.
				wg.Go(func() { p.Done(fail) })
				<-sink.Entered
			} else {
				p.Done(fail)
			}
		case from == breaker.Open && to == breaker.HalfOpen:
			clk.Advance(time.Minute)
			br.State()
		case from == breaker.HalfOpen && to == breaker.Closed:
			allowed().Done(nil)
		case from == breaker.HalfOpen && to == breaker.Open && i%2 == 0:
			allowed().Done(fail)
		case from == breaker.HalfOpen && to == breaker.Open:
			allowed() // A probe that never reports: given up on after HalfOpenMaxWait.
			clk.Advance(MaxWait)
			br.Stats()
		default:
			t.Fatalf("step %d: no way from %v to %v", i, from, to)
		}
		if got := br.State(); got != to {
			t.Fatalf("step %d: %v → %v made %v", i, from, to, got)
		}
		made[Pair{from.String(), to.String()}]++
	}
	release()
	return made
}

// RandomPath returns a seeded random path for Walk: a trip, then 40 to 239 changes, each to
// a state the breaker can move to from the one before (its own cycle's more often than an
// operator's).
func RandomPath(rng *rand.Rand) []breaker.State {
	o, c, h, f, d := breaker.Open, breaker.Closed, breaker.HalfOpen, breaker.ForcedOpen, breaker.Disabled
	next := map[breaker.State][]breaker.State{
		c: {o, o, o, f, d},
		o: {h, h, h, f, c, d},
		h: {o, o, o, c, c, f, d},
		f: {c, d},
		d: {c, f},
	}
	path, s := []breaker.State{o}, o
	for range 40 + rng.IntN(200) {
		s = next[s][rng.IntN(len(next[s]))]
		path = append(path, s)
	}
	return path
}
