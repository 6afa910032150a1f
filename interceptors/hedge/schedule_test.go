package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// lateClock is a fake clock whose first AfterFunc callback waits for late to be closed before
// it runs: a timer goroutine held up by a stall of the client (a GC pause, a busy CPU).
type lateClock struct {
	*clocktest.Fake
	late chan struct{}
	held atomic.Bool
}

func (c *lateClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.Fake.AfterFunc(d, func() {
		if c.held.CompareAndSwap(false, true) {
			<-c.late
		}
		f()
	})
}

// Each hedge goes a delay after the one before it was sent (gRFC A6), as the package
// documentation says: when a stall of the client sent hedge 2 half a delay late, hedge 3 is
// not due at 2 delays from the start but a delay after hedge 2 went, so that the hedges a
// stall made overdue do not all go at once.
func TestHedgeGoesADelayAfterThePrevious(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := &lateClock{Fake: clocktest.New(time.Time{}), late: make(chan struct{})}
		p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		hangs := func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		s := newScripted(map[int]func(context.Context) (metadata.MD, error){1: hangs, 2: hangs, 3: hangs})
		ctx, cancel := context.WithCancel(context.Background())
		done := startCompare(ctx, p, s.invoke)
		defer func() {
			cancel()
			if err := <-done; status.Code(err) != grpccodes.Canceled {
				t.Errorf("the call ended with %v, want Canceled (the caller's)", err)
			}
		}()
		s.waitFor(t, 1)
		clk.Advance(d) // hedge 2 is due; its timer's goroutine is held up...
		synctest.Wait()
		clk.Advance(d / 2) // ...for half a delay
		close(clk.late)
		s.waitFor(t, 2)
		synctest.Wait()
		clk.Advance(d / 2) // 2 delays after the start, half a delay after hedge 2 went
		synctest.Wait()
		if got := s.total(); got != 2 {
			t.Fatalf("%d attempts sent half a delay after hedge 2, want 2", got)
		}
		clk.Advance(d/2 - time.Nanosecond)
		synctest.Wait()
		s.none(t)
		clk.Advance(time.Nanosecond) // a delay after hedge 2 went
		s.waitFor(t, 3)
	})
}
