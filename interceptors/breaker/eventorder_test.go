package breaker

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
)

// changeLog is a sink that keeps the breaker's state changes in the order it finishes with
// them, as a consumer that keeps "the last state seen" applies them. before, when set, is
// called with the event and its number (from 1) before the event is kept, and may block or
// call back into the breaker (a sink that reads Stats to enrich the event); after, when set,
// is called once it is kept, and may panic.
type changeLog struct {
	before func(n int, e observe.Event)
	after  func(e observe.Event)

	n      atomic.Int64
	mu     sync.Mutex
	events []observe.Event
}

func (l *changeLog) Observe(e observe.Event) {
	if e.Kind != observe.BreakerStateChanged {
		return
	}
	if l.before != nil {
		l.before(int(l.n.Add(1)), e)
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	if l.after != nil {
		l.after(e)
	}
}

func (l *changeLog) Events() []observe.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]observe.Event(nil), l.events...)
}

// restart forgets the events so far and sets before.
func (l *changeLog) restart(before func(n int, e observe.Event)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events, l.before = nil, before
	l.n.Store(0)
}

// gate blocks the first event's Observe until it is opened, and tells when that Observe has
// begun.
type gate struct {
	entered, release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) hold(n int, _ observe.Event) {
	if n == 1 {
		close(g.entered)
		<-g.release
	}
}

// assertChain checks that events are a chain of changes in emission order: the first from
// first, each From the To before it, the last To last, and the Times never going back.
func assertChain(t *testing.T, events []observe.Event, first, last State) {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("no state change seen")
	}
	prevTo, prevAt := first.String(), events[0].Time
	for i, e := range events {
		if e.From != prevTo {
			t.Fatalf("event %d of %d is %s→%s (%s), after a change to %s: out of order\nevents from %d: %s", i, len(events), e.From, e.To, e.Reason, prevTo, max(i-4, 0), chain(events[max(i-4, 0):min(i+4, len(events))]))
		}
		if e.Time.Before(prevAt) {
			t.Fatalf("event %d of %d (%s→%s) is timed %v, before the previous %v", i, len(events), e.From, e.To, e.Time, prevAt)
		}
		prevTo, prevAt = e.To, e.Time
	}
	if prevTo != last.String() {
		t.Fatalf("the last event seen leaves the breaker %s, but it is %v\nlast events: %s", prevTo, last, chain(events[max(len(events)-4, 0):]))
	}
}

func chain(events []observe.Event) string {
	s := ""
	for i, e := range events {
		if i > 0 {
			s += ", "
		}
		s += e.From + "→" + e.To + " (" + e.Reason + ")"
	}
	return s
}

func newLogged(t *testing.T, cfg Config, log *changeLog) (*Breaker, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	b, err := New(svc, cfg, WithClock(clk), WithObserver(log))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b, clk
}

// orderCfg trips on one failure, opens for 1s (then 2s, 4s...) and gives up on a stuck probe
// after 10s.
var orderCfg = Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: time.Second, RecoveryTimeout: time.Minute, HalfOpenMaxWait: 10 * time.Second}

// Two changes made one after the other on two goroutines reach the sink in the order they were
// made, even when the first one's Observe is slow: the second waits for it. Before the fix each
// was sent by the goroutine that made it, after the breaker's lock, so the second overtook the
// first and a consumer that keeps the last state seen (otelobs, promobs' gauge without Scrape)
// showed the first change's To, a state the breaker had left, until the next change.
func TestStateChangesReachTheSinkInOrder(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, b *Breaker, clk *clocktest.Fake) Permit // Silent: before the log starts.
		first  func(b *Breaker, clk *clocktest.Fake, p Permit)            // On a goroutine of its own, whose event is held.
		second func(b *Breaker, clk *clocktest.Fake)                      // Meanwhile, on the test's goroutine.
		want   [][3]string                                                // From, To, Reason.
		last   State
	}{
		{
			name:   "trip, then half-open",
			setup:  func(t *testing.T, b *Breaker, _ *clocktest.Fake) Permit { return allowed(t, b) },
			first:  func(_ *Breaker, _ *clocktest.Fake, p Permit) { p.Done(errFail) },
			second: func(b *Breaker, clk *clocktest.Fake) { clk.Advance(time.Second); b.State() },
			want:   [][3]string{{"closed", "open", ReasonConsecutiveFailures}, {"open", "half_open", ReasonRecoveryTimeout}},
			last:   HalfOpen,
		},
		{
			name: "the probe's own half-open, then the wait for it ends",
			setup: func(t *testing.T, b *Breaker, clk *clocktest.Fake) Permit {
				allowed(t, b).Done(errFail)
				clk.Advance(time.Second)
				return Permit{}
			},
			first:  func(b *Breaker, _ *clocktest.Fake, _ Permit) { _, _ = b.Allow() },
			second: func(b *Breaker, clk *clocktest.Fake) { clk.Advance(10 * time.Second); b.Stats() },
			want:   [][3]string{{"open", "half_open", ReasonRecoveryTimeout}, {"half_open", "open", ReasonHalfOpenMaxWait}},
			last:   Open,
		},
		{
			name: "the probe succeeds, then forced open",
			setup: func(t *testing.T, b *Breaker, clk *clocktest.Fake) Permit {
				allowed(t, b).Done(errFail)
				clk.Advance(time.Second)
				return allowed(t, b)
			},
			first:  func(_ *Breaker, _ *clocktest.Fake, p Permit) { p.Done(nil) },
			second: func(b *Breaker, _ *clocktest.Fake) { b.ForceOpen() },
			want:   [][3]string{{"half_open", "closed", ReasonProbesSucceeded}, {"closed", "forced_open", ReasonForcedOpen}},
			last:   ForcedOpen,
		},
		{
			name: "the probe fails, then reset",
			setup: func(t *testing.T, b *Breaker, clk *clocktest.Fake) Permit {
				allowed(t, b).Done(errFail)
				clk.Advance(time.Second)
				return allowed(t, b)
			},
			first:  func(_ *Breaker, _ *clocktest.Fake, p Permit) { p.Done(errFail) },
			second: func(b *Breaker, _ *clocktest.Fake) { b.Reset() },
			want:   [][3]string{{"half_open", "open", ReasonProbeFailed}, {"open", "closed", ReasonReset}},
			last:   Closed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &changeLog{}
			b, clk := newLogged(t, orderCfg, log)
			p := tt.setup(t, b, clk)
			g := newGate()
			log.restart(g.hold)

			var wg sync.WaitGroup
			wg.Go(func() { tt.first(b, clk, p) })
			within.Recv(t, g.entered, "the first change did not reach the held sink") // The first change is made and its Observe has begun.
			tt.second(b, clk)
			close(g.release)
			within.Wait(t, &wg, "the first change's call did not return once the sink was released")

			events := log.Events()
			if len(events) != len(tt.want) {
				t.Fatalf("%d events (%s), want %d", len(events), chain(events), len(tt.want))
			}
			for i, e := range events {
				if got := [3]string{e.From, e.To, e.Reason}; got != tt.want[i] {
					t.Fatalf("event %d is %v, want %v: the sink saw %s", i, got, tt.want[i], chain(events))
				}
			}
			assertChain(t, events, stateNamed(tt.want[0][0]), tt.last)
			if s := b.State(); s != tt.last {
				t.Fatalf("state %v, want %v", s, tt.last)
			}
		})
	}
}

func allowed(t *testing.T, b *Breaker) Permit {
	t.Helper()
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	return p
}

func stateNamed(name string) State {
	for s, n := range stateNames {
		if n == name {
			return State(s)
		}
	}
	panic("no state " + name)
}

// A sink may call back into the breaker from Observe: State and Stats (which make a due
// transition), Allow and Done, ForceOpen, Reset. Nothing deadlocks, and the changes made from
// inside Observe reach the sink after the event being observed, in the order they were made.
// Before the fix each was sent from inside the Observe of the one before, so a sink that keeps
// an event after reading the breaker (to log its Stats with it, say) finished them innermost
// first.
func TestReentrantSinkKeepsOrder(t *testing.T) {
	log := &changeLog{}
	b, clk := newLogged(t, orderCfg, log)
	log.before = func(_ int, e observe.Event) {
		_ = b.Stats()
		_ = b.State()
		switch e.To {
		case "open":
			clk.Advance(time.Second)
			if s := b.State(); s != HalfOpen { // Due: made from inside Observe.
				t.Errorf("state %v after the open interval, want half_open", s)
			}
		case "half_open":
			p, err := b.Allow()
			if err != nil {
				t.Errorf("probe refused: %v", err)
				return
			}
			p.Done(nil)
		case "closed":
			if e.Reason == ReasonProbesSucceeded {
				b.ForceOpen()
			}
		case "forced_open":
			b.Reset()
		}
	}
	allowed(t, b).Done(errFail)

	events := log.Events()
	want := [][3]string{
		{"closed", "open", ReasonConsecutiveFailures},
		{"open", "half_open", ReasonRecoveryTimeout},
		{"half_open", "closed", ReasonProbesSucceeded},
		{"closed", "forced_open", ReasonForcedOpen},
		{"forced_open", "closed", ReasonReset},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events (%s), want %d", len(events), chain(events), len(want))
	}
	for i, e := range events {
		if got := [3]string{e.From, e.To, e.Reason}; got != want[i] {
			t.Fatalf("event %d is %v, want %v: the sink saw %s", i, got, want[i], chain(events))
		}
	}
	assertChain(t, events, Closed, Closed)
	if s := b.State(); s != Closed {
		t.Fatalf("state %v, want closed", s)
	}
	// The breaker is no longer sending: the next change reaches the sink before its call
	// returns.
	log.before = nil
	b.Disable()
	if e := log.Events(); len(e) != len(want)+1 || e[len(want)].To != "disabled" {
		t.Fatalf("after Disable the sink saw %s, want one more event, to disabled", chain(e))
	}
}

// A sink that panics on an event with another change waiting behind it: the waiting change
// still reaches the sink, after the one that panicked, and then the panic goes on, on the
// goroutine that was sending (the one whose call made the first change). The breaker keeps
// working and later changes are sent as they are made. Before the fix the waiting change
// was sent by its own goroutine ahead of the held one.
func TestPanickingSinkKeepsOrderAndTheBreaker(t *testing.T) {
	log := &changeLog{}
	b, clk := newLogged(t, orderCfg, log)
	g := newGate()
	log.before = g.hold
	var armed atomic.Bool
	armed.Store(true)
	log.after = func(e observe.Event) {
		if e.To == "open" && armed.CompareAndSwap(true, false) {
			panic("sink")
		}
	}
	p := allowed(t, b)

	var (
		wg        sync.WaitGroup
		recovered any
	)
	wg.Go(func() {
		defer func() { recovered = recover() }()
		p.Done(errFail) // closed → open: held, then panics.
	})
	within.Recv(t, g.entered, "the trip's change did not reach the held sink")
	clk.Advance(time.Second)
	if s := b.State(); s != HalfOpen { // open → half_open: waits behind the held event.
		t.Fatalf("state %v, want half_open", s)
	}
	close(g.release)
	within.Wait(t, &wg, "Done of the tripping call did not end once the sink was released")
	if recovered != "sink" {
		t.Fatalf("Done recovered %v, want the sink's panic", recovered)
	}
	assertChain(t, log.Events(), Closed, HalfOpen)

	// The breaker works on, and its later changes reach the sink as they are made.
	allowed(t, b).Done(nil)
	if e := log.Events(); len(e) != 3 || e[2].To != "closed" {
		t.Fatalf("after a successful probe the sink saw %s, want a third event to closed", chain(e))
	}
	allowed(t, b).Done(errFail)
	assertChain(t, log.Events(), Closed, Open)
	if s := b.State(); s != Open {
		t.Fatalf("state %v, want open", s)
	}
}

// A sink that ends the goroutine sending (runtime.Goexit: a test's sink calling t.FailNow) with
// another change waiting: as with a panic, the waiting change still reaches the sink, and the
// breaker sends its later changes as they are made.
func TestSinkEndingItsGoroutineKeepsOrderAndTheBreaker(t *testing.T) {
	log := &changeLog{}
	b, clk := newLogged(t, orderCfg, log)
	g := newGate()
	log.before = g.hold
	var armed atomic.Bool
	armed.Store(true)
	log.after = func(e observe.Event) {
		if e.To == "open" && armed.CompareAndSwap(true, false) {
			runtime.Goexit()
		}
	}
	p := allowed(t, b)
	var (
		wg       sync.WaitGroup
		returned bool
	)
	wg.Go(func() {
		p.Done(errFail) // closed → open: held, then the goroutine ends.
		returned = true
	})
	within.Recv(t, g.entered, "the trip's change did not reach the held sink")
	clk.Advance(time.Second)
	b.State() // open → half_open: waits behind the held event.
	close(g.release)
	within.Wait(t, &wg, "Done of the tripping call did not end once the sink was released")
	if returned {
		t.Fatal("Done returned: the sink's Goexit did not end the goroutine")
	}
	assertChain(t, log.Events(), Closed, HalfOpen)
	allowed(t, b).Done(nil)
	if e := log.Events(); len(e) != 3 || e[2].To != "closed" {
		t.Fatalf("after a successful probe the sink saw %s, want a third event to closed", chain(e))
	}
}

// A sink whose Observe is held for a long time (a blocked writer) does not make the breaker
// keep every change made meanwhile: past maxQueuedChanges waiting, changes are folded into
// the newest waiting event, so that the sink, once free, sees at most that many more events,
// still a chain, ending with the breaker's state. Before the fix each change was sent by the
// goroutine that made it, ahead of the held one.
func TestHeldSinkQueueIsBounded(t *testing.T) {
	for _, changes := range []int{maxQueuedChanges - 1, maxQueuedChanges, maxQueuedChanges + 1, 5 * maxQueuedChanges, 5*maxQueuedChanges + 1} {
		t.Run(strconv.Itoa(changes)+" changes", func(t *testing.T) {
			log := &changeLog{}
			b, clk := newLogged(t, orderCfg, log)
			g := newGate()
			log.before = g.hold
			p := allowed(t, b)
			var wg sync.WaitGroup
			wg.Go(func() { p.Done(errFail) }) // closed → open, held.
			within.Recv(t, g.entered, "the trip's change did not reach the held sink")
			// Changes of every kind while the first is held, one per step: half-open, probes
			// that fail or succeed, the wait for a stuck probe, the operator's calls.
			for made := range changes {
				from := b.State()
				switch from {
				case Closed:
					if made%4 == 3 {
						b.ForceOpen()
					} else {
						allowed(t, b).Done(errFail)
					}
				case Open:
					clk.Advance(time.Minute)
					b.State()
				case HalfOpen:
					switch made % 3 {
					case 0:
						allowed(t, b).Done(errFail)
					case 1:
						allowed(t, b).Done(nil)
					case 2:
						allowed(t, b) // Stuck.
						clk.Advance(10 * time.Second)
						b.Stats()
					}
				case ForcedOpen:
					b.Disable()
				case Disabled:
					b.Reset()
				}
				if b.State() == from {
					t.Fatalf("step %d made no change from %v", made, from)
				}
			}
			close(g.release)
			within.Wait(t, &wg, "Done of the tripping call did not return once the sink was released")
			events := log.Events()
			if want := 1 + min(changes, maxQueuedChanges); len(events) > want || (changes <= maxQueuedChanges && len(events) != want) {
				t.Fatalf("the sink saw %d events after %d changes made while it was held, want %d (1 + at most %d)", len(events), changes, want, maxQueuedChanges)
			}
			assertChain(t, events, Closed, b.State())
		})
	}
}

// TestStateChangesChainUnderContention drives transitions from several goroutines at once
// (failures, probes, the clock, State, Stats and the operator's calls; run it under -race)
// with a sink that yields the processor before it keeps each event: the events it keeps must
// form one chain, each From the To before it, timed in order, ending with the breaker's state.
// Before the fix the events of changes made close together were often kept out of order.
func TestStateChangesChainUnderContention(t *testing.T) {
	const (
		goroutines = 6
		rounds     = 400
	)
	log := &changeLog{before: func(int, observe.Event) { runtime.Gosched() }}
	b, clk := newLogged(t, Config{ConsecutiveFailures: 2, HalfOpenMaxCalls: 2, InitialRecoveryTimeout: time.Millisecond, RecoveryTimeout: 4 * time.Millisecond, HalfOpenMaxWait: 3 * time.Millisecond}, log)
	outcomes := []error{errFail, nil, errFail, errFail, errCancel, errFail, nil}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			var held []Permit
			for i := range rounds {
				clk.Advance(time.Millisecond)
				switch k := (g*31 + i) % 50; {
				case k == 0:
					b.Reset()
				case k == 1 && g == 0:
					b.ForceOpen()
				case k == 3 && g == 0:
					b.Reset() // Back to the automatic states soon.
				case k < 5:
					_ = b.State()
				case k < 8:
					_ = b.Stats()
				case k < 10:
					if p, err := b.Allow(); err == nil {
						held = append(held, p) // Reported later, or never (a stuck probe).
					}
				default:
					_ = b.Execute(func() error { return outcomes[(g+i)%len(outcomes)] })
				}
				if len(held) > 3 {
					held[0].Done(outcomes[i%len(outcomes)])
					held = held[1:]
				}
			}
		})
	}
	wg.Wait()
	events := log.Events()
	if len(events) < 20 { // 50 to 650 in 300 runs under -race.
		t.Fatalf("only %d state changes: the test does not exercise the breaker", len(events))
	}
	assertChain(t, events, Closed, b.State())
}
