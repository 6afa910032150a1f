package redislimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// Regression: a caller that cancels its context while the round trip waits on a stalled Redis
// (a hedged attempt that lost, a client that hung up) got Take's answer only when the Redis
// timeout ran out: go-redis bounds a blocked read by its context's deadline, not by a cancel.
// Take returns ctx.Err() once the context ends, as its documentation says, and Redis is not
// blamed. The Redis timeout here is a minute, so that no busy machine mistakes one for the
// other.
func TestCanceledTakeDoesNotWaitForTheRedisTimeout(t *testing.T) {
	srv := ownServer(t)
	fake := clocktest.New(time.Time{})
	cfg := config(srv.addr, prefix(t), 1000, 1000)
	cfg.Redis.Timeout = time.Minute
	l, wrote := signalLimiter(t, cfg, WithClock(fake))
	healthy(t, fake, l)

	srv.stall()
	defer srv.resume() // before the limiter's cleanup; lets the old code's Take end
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	degraded := l.Degraded()
	done := takeInFlight(t, ctx, l, wrote, "Take") // its reply awaited from the stalled Redis
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("canceled Take: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Take still waits on the stalled Redis 10s after its context was canceled (Redis timeout 1m)")
	}
	if n := l.Degraded() - degraded; n != 0 {
		t.Errorf("Degraded() rose by %d for the caller's cancel, want 0", n)
	}
}
