package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc/metadata"
)

// A hedge whose call was decided between its timer and its start (here attempt 1 answers
// while the hedge's HedgeSent event is being observed) never goes out: it reaches no server
// and, as any hedge not sent, takes nothing from the method's allowance of losing hedges.
func TestHedgeDecidedBeforeItStartsKeepsTheAllowance(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	sending := make(chan struct{})   // the hedge's HedgeSent is being observed
	firstDone := make(chan struct{}) // attempt 1 has finished
	sink := observe.SinkFunc(func(e observe.Event) {
		switch {
		case e.Kind == observe.HedgeSent:
			close(sending)
			<-firstDone
		case e.Kind == observe.AttemptFinished && e.Attempt == 1:
			close(firstDone)
		}
	})
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(sink))
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
	clk.Advance(d)
	<-sending
	close(release) // attempt 1 answers: the call is decided before the hedge starts
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.none(t)
	if got := p.method(compare).hedges.milli.Load(); got != burstMilli {
		t.Fatalf("allowance %d milli-hedges after a hedge that never went out, want the whole %d", got, burstMilli)
	}
}
