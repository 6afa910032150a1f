package hedge

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// eventLog is a sink that keeps every event it is sent.
type eventLog struct {
	mu     sync.Mutex
	events []observe.Event
}

func (l *eventLog) Observe(e observe.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// of returns the events of kind k about attempt n.
func (l *eventLog) of(k observe.Kind, n int) []observe.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []observe.Event
	for _, e := range l.events {
		if e.Kind == k && e.Attempt == n {
			out = append(out, e)
		}
	}
	return out
}

// receipted is a retry budget that grants every draw, with a receipt, and counts the draws
// and the receipts given back.
type receipted struct{ drawn, refunded atomic.Int32 }

func (b *receipted) Withdraw() bool {
	ok, _ := b.Draw()
	return ok
}

func (b *receipted) Draw() (bool, int64) { return true, int64(b.drawn.Add(1)) }

func (b *receipted) Refund(receipt int64) {
	if receipt != 0 {
		b.refunded.Add(1)
	}
}

// A hedge whose HedgeSent the observer panics on never goes out, but the sinks told before the
// panic (an observe.Multi's before the panicking one: promobs' bulwark_hedges_total) counted
// it: it is reported by one AttemptFinished, rejected (code Internal) as a hedge refused on
// this side of the wire is, with no time on the wire and the Reason it was sent for, so that
// promobs counts it among the hedges refused, and it gives back the retry budget's draw to a
// Refunder, as a hedge refused below does. No AttemptFinished followed it, and its draw stayed
// taken; then it was reported canceled, and promobs counted it among the hedges that reached
// the service (TestHedgeUnsentForAnObserverPanicIsCountedRefused).
func TestHedgeSentObserverPanicReportsTheHedge(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	log := &eventLog{}
	b := &receipted{}
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(observe.Multi(log, hedgeSentPanicking)), WithBudget(b))
	if err != nil {
		t.Fatal(err)
	}
	hedgePanicStopsTheCall(t, p, clk, d)
	if got := len(log.of(observe.HedgeSent, 2)); got != 1 {
		t.Fatalf("%d HedgeSent of attempt 2, want 1", got)
	}
	fin := log.of(observe.AttemptFinished, 2)
	if len(fin) != 1 {
		t.Fatalf("%d AttemptFinished of attempt 2, want 1: a hedge counted by its HedgeSent is reported once", len(fin))
	}
	if e := fin[0]; e.Class != codes.Rejected || e.Code != grpccodes.Internal || e.Duration != 0 || e.Reason != observe.ReasonHedgeDelay || e.Policy != observe.PolicyHedge {
		t.Errorf("attempt 2's AttemptFinished: class %v, code %v, duration %v, reason %q, policy %q; want rejected, Internal, 0, %q, %q",
			e.Class, e.Code, e.Duration, e.Reason, e.Policy, observe.ReasonHedgeDelay, observe.PolicyHedge)
	}
	if got := len(log.of(observe.AttemptFinished, 1)); got != 1 {
		t.Errorf("%d AttemptFinished of attempt 1, want 1", got)
	}
	if drawn, refunded := b.drawn.Load(), b.refunded.Load(); drawn != 1 || refunded != 1 {
		t.Errorf("the retry budget drew %d and was given back %d, want 1 and 1: the hedge was not sent", drawn, refunded)
	}
}

// An observer that panics on HedgeSent and again on the unsent hedge's AttemptFinished raises
// its first panic on the caller's goroutine; the second is dropped, and kills nothing.
func TestHedgeSentAndItsFinishedPanicRaiseTheFirst(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(observe.SinkFunc(func(e observe.Event) {
		switch {
		case e.Kind == observe.HedgeSent:
			panic("observer boom")
		case e.Kind == observe.AttemptFinished && e.Attempt == 2:
			panic("second boom")
		}
	})))
	if err != nil {
		t.Fatal(err)
	}
	hedgePanicStopsTheCall(t, p, clk, d)
}
