package redislimit

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
)

// A probe whose caller gives up (its context canceled while the round trip is in flight, as a
// hedged attempt that lost is) learned nothing about Redis: Take returns ctx.Err() and Redis
// is not blamed, so the probe must not keep the other calls on the fail mode for another probe
// interval. The next call probes at once. (The claim used to stay: a fail-closed limiter went
// on refusing every call as Unavailable for a whole interval while Redis answered.)
func TestCanceledProbeGivesTheProbeBack(t *testing.T) {
	srv, fake, l, wrote := pausedThenRestarted(t)
	// A connection to the restarted Redis, set up (HELLO answered) while it answers, waits in
	// the pool: the probe writes its script call on it at once, not after a set-up that the
	// stalled Redis would never answer.
	if err := l.client.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	srv.stall() // the probe's round trip is in flight when its caller cancels it
	defer srv.resume()
	fake.Advance(DefaultProbeInterval)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := takeInFlight(t, ctx, l, wrote, "the probe") // its reply awaited from the stalled Redis
	cancel()
	if err := within.Recv(t, done, "the canceled probe did not return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled probe: %v, want context.Canceled", err)
	}
	srv.resume()

	degraded := l.Degraded()
	trips := l.trips.Load()
	d, err := l.Take(context.Background(), 0)
	if err != nil || !d.Allowed || l.trips.Load() != trips+1 {
		t.Fatalf("Take after the canceled probe = %+v, %v after %d round trips; want it to probe Redis (1 round trip) and be admitted",
			d, err, l.trips.Load()-trips)
	}
	if l.Degraded() != degraded {
		t.Errorf("Degraded rose by %d, want 0", l.Degraded()-degraded)
	}
}
