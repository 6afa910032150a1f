package hedge

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc/metadata"
)

// pausingClock is a fake clock whose first reading after pause waits, in the goroutine that
// reads it, until resume is closed; paused is closed once that reading has begun.
type pausingClock struct {
	*clocktest.Fake
	armed  atomic.Bool
	paused chan struct{}
	resume chan struct{}
}

func (c *pausingClock) pause() {
	c.paused, c.resume = make(chan struct{}), make(chan struct{})
	c.armed.Store(true)
}

func (c *pausingClock) Now() time.Time {
	if c.armed.CompareAndSwap(true, false) {
		close(c.paused)
		<-c.resume
	}
	return c.Fake.Now()
}

// granting is a retry budget that grants every Withdraw, and counts them.
type granting struct{ taken atomic.Int32 }

func (b *granting) Withdraw() bool {
	b.taken.Add(1)
	return true
}

// A hedge whose timer has fired, but whose call attempt 1 decided before the hedge started
// (here the hedge's goroutine is held up as it starts: a stall of the client), never goes out
// and spends nothing: it reaches no server, takes nothing from the method's allowance of
// losing hedges nor from the retry budget, and sends no event (no HedgeSent, no
// AttemptFinished): the call was made of attempt 1 alone.
func TestHedgeDecidedBeforeItStartsSpendsNothing(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := &pausingClock{Fake: clocktest.New(time.Time{})}
	firstDone := make(chan struct{}) // attempt 1's AttemptFinished was sent
	var (
		mu     sync.Mutex
		events []observe.Event
	)
	sink := observe.SinkFunc(func(e observe.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		if e.Kind == observe.AttemptFinished && e.Attempt == 1 {
			close(firstDone)
		}
	})
	b := &granting{}
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(sink), WithBudget(b))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(context.Context) (metadata.MD, error) {
			<-release
			return nil, nil
		},
		2: func(ctx context.Context) (metadata.MD, error) { return nil, nil },
	})
	done := startCompare(context.Background(), p, s.invoke)
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.pause()
	clk.Advance(d)
	<-clk.paused   // the hedge's timer has fired: the hedge is on its way
	close(release) // attempt 1 answers: the call is decided before the hedge starts
	<-firstDone
	close(clk.resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.none(t)
	if got := p.method(compare).hedges.milli.Load(); got != burstMilli {
		t.Errorf("allowance %d milli-hedges after a hedge that never went out, want the whole %d", got, burstMilli)
	}
	if got := b.taken.Load(); got != 0 {
		t.Errorf("%d retry-budget tokens taken for a hedge that never went out, want 0", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		if e.Kind == observe.HedgeSent || e.Attempt != 1 {
			t.Errorf("event %v of attempt %d, want only attempt 1's: the hedge never went out", e.Kind, e.Attempt)
		}
	}
}

// A hedge on its way when attempt 1 panics does not start: the panic reaches the caller once
// the call has stopped its hedges, and a hedge that started after that (its context no longer
// canceled by anyone) would have held the caller's panic until the hedge's own end.
func TestHedgeNotStartedAfterAttemptOnePanicked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := &pausingClock{Fake: clocktest.New(time.Time{})}
		// With an observer, the hedge's HedgeSent used to be on the way too: it read the clock.
		p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(observe.SinkFunc(func(observe.Event) {})))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		s := newScripted(map[int]func(context.Context) (metadata.MD, error){
			1: func(context.Context) (metadata.MD, error) {
				<-release
				panic("boom")
			},
			2: func(ctx context.Context) (metadata.MD, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
		})
		recovered := make(chan any, 1)
		go func() {
			defer func() { recovered <- recover() }()
			_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
		}()
		s.waitFor(t, 1)
		clk.BlockUntil(1)
		clk.pause()
		clk.Advance(d)
		<-clk.paused    // the hedge's timer has fired: the hedge is on its way
		close(release)  // attempt 1 panics
		synctest.Wait() // the call has stopped its hedges and waits for them
		close(clk.resume)
		synctest.Wait()
		select {
		case v := <-recovered:
			if v != "boom" {
				t.Fatalf("recovered %v, want attempt 1's panic", v)
			}
		default:
			t.Fatal("attempt 1's panic has not reached the caller: a hedge started after the call stopped its hedges runs on")
		}
		s.none(t)
	})
}

// An observer that panics on a hedge's HedgeSent makes the call panic on the caller's
// goroutine, as a panic of the hedge's attempt does, and the hedge is not sent; the panic used
// to be raised in the timer's goroutine, which killed the process.
func TestHedgeSentObserverPanicReachesTheCaller(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.HedgeSent {
			panic("observer boom")
		}
	})
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	hedgePanicStopsTheCall(t, p, clk, d)
}
