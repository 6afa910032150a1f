package redislimit

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// A limit changed by a reload, or while a rolling deploy runs replicas of both
// configurations, has a bucket of its own (its key names the limit): the smaller limit starts
// from a full bucket of its burst, not from the larger one's debt, which it used to clamp to
// its own span and so hand back to the larger limit as fresh tokens. Neither reads the other's
// state as a fault: no fail mode, nothing degraded; and the old bucket is left as it was, to
// expire once it would be full again.
func TestChangedLimitHasItsOwnBucket(t *testing.T) {
	addr := sharedAddr(t)
	p := prefix(t)
	// Before: one call an hour with a burst of 100. After: a burst of 10. Nothing refills
	// while the test runs.
	before := testLimiter(t, "ocr", config(addr, p, hourly, 100))
	after := testLimiter(t, "ocr", config(addr, p, hourly, 10)) // fail-closed

	for i := range 100 {
		if d := take(t, before); !d.Allowed {
			t.Fatalf("take %d of the large burst: denied", i+1)
		}
	}
	admitted := 0
	for i := range 11 {
		d, err := after.Take(context.Background(), 0)
		if err != nil {
			t.Fatalf("smaller limit, take %d: %v; want a decision, not the fail mode", i+1, err)
		}
		if d.Allowed {
			admitted++
		} else if d.RetryAfter <= 0 || d.RetryAfter > time.Hour {
			t.Errorf("smaller limit, take %d: RetryAfter %v, want within (0, 1h] (one interval)", i+1, d.RetryAfter)
		}
	}
	if admitted != 10 || after.Degraded() != 0 {
		t.Errorf("smaller limit: %d of 11 admitted, %d degraded; want its own full burst of 10 and none", admitted, after.Degraded())
	}
	if d := take(t, before); d.Allowed {
		t.Errorf("larger limit after the smaller one's takes = %+v; want denied: its bucket is still spent", d)
	}
	ctx := context.Background()
	if ttl, err := after.client.TTL(ctx, after.Key()).Result(); err != nil || ttl <= 9*time.Hour || ttl > 10*time.Hour {
		t.Errorf("%s TTL %v, %v; want within (9h, 10h]: ten calls an hour apart", after.Key(), ttl, err)
	}
	if ttl, err := before.client.TTL(ctx, before.Key()).Result(); err != nil || ttl <= 99*time.Hour || ttl > 100*time.Hour {
		t.Errorf("%s TTL %v, %v; want within (99h, 100h]: the larger limit's bucket, unclamped", before.Key(), ttl, err)
	}
}

// A TAT absurdly far ahead (another program's number, or a Redis clock that stepped back, as
// after a failover to a replica whose clock is behind) is clamped to the limit's span: denied
// for at most one interval, then the limit is in force, never locked for the value's distance
// and never a fault.
func TestTATFarAheadIsClamped(t *testing.T) {
	l := testLimiter(t, "ocr", config(sharedAddr(t), prefix(t), 10, 1)) // fail-closed
	ctx := context.Background()
	if err := l.client.Set(ctx, l.Key(), strconv.FormatFloat(redisNow(t, l)+1e12, 'f', -1, 64), 0).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := l.Take(ctx, 0)
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("Take on a far TAT = %+v, %v; want denied for at most one interval (100ms)", d, err)
	}
	if ttl, err := l.client.PTTL(ctx, l.Key()).Result(); err != nil || ttl <= 0 || ttl > time.Second {
		t.Fatalf("key PTTL %v, %v; want within (0, 1s]", ttl, err)
	}
	// One interval on, a token is back: maxWait covers it.
	if d, err := l.Take(ctx, time.Second); err != nil || !d.Allowed {
		t.Fatalf("Take with maxWait = %+v, %v; want admitted after one interval", d, err)
	}
	if l.Degraded() != 0 {
		t.Errorf("Degraded %d, want 0: a clamped TAT is no fault", l.Degraded())
	}
}

// A probe that finds Redis answering ends the pause, even when the key it read was broken
// (a fault of that call only, which the script repaired): the next call asks Redis again
// instead of answering by the fail mode for another probe interval.
func TestProbeOnBadStateEndsThePause(t *testing.T) {
	srv, fake, l, _ := pausedThenRestarted(t)
	if err := newClient(t, srv.addr).Set(context.Background(), l.Key(), "not a time", 0).Err(); err != nil {
		t.Fatal(err)
	}
	fake.Advance(DefaultProbeInterval)
	if _, err := l.Take(context.Background(), 0); !errors.Is(err, errBadState) {
		t.Fatalf("probe on a broken key: %v, want the bad state's ErrUnavailable", err)
	}
	trips := l.trips.Load()
	d, err := l.Take(context.Background(), 0)
	if err != nil || !d.Allowed || l.trips.Load() != trips+1 {
		t.Fatalf("Take after the probe = %+v, %v after %d round trips; want admitted by Redis (1 round trip)", d, err, l.trips.Load()-trips)
	}
}

// pausedThenRestarted returns a fail-closed limiter of "ocr" (rate 10, burst 2) on a fake
// clock and its own Redis server, which answered a call, went down for the next (which found
// it down and began the probe pause) and is up again; the pause is still on. The limiter's
// client signals each script call it writes on the channel returned (see signalClient).
func pausedThenRestarted(t *testing.T) (*server, *clocktest.Fake, *Limiter, <-chan struct{}) {
	t.Helper()
	srv := ownServer(t)
	fake := clocktest.New(time.Time{})
	l, wrote := signalLimiter(t, config(srv.addr, prefix(t), 10, 2), WithClock(fake)) // fail-closed
	healthy(t, fake, l)
	srv.kill()
	if _, err := l.Take(context.Background(), 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Take with Redis down: %v, want ErrUnavailable", err)
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	return srv, fake, l, wrote
}

// The key's expiry is the time until the bucket is full again, at most the limit's span, and
// Redis refuses an expiry past about 9.2e15 seconds (its milliseconds must fit an int64). A
// valid limit's span reaches 3e18 seconds (a call per century, a burst of 1e9): once such a
// bucket owes more than that (3 million calls), a SET with the span as its expiry failed, so
// every Take was a Redis fault for good (the script's write never happened) instead of an
// admission, and a TAT clamped to such a span a fault instead of a denial. The expiry is
// capped: such a key expires early, after 31 million years, and never fails.
func TestExpiryBeyondRedisLimitIsCapped(t *testing.T) {
	const century = 100 * 365 * 24 * 3600.0 // the interval at MinRate, in seconds
	for _, tt := range []struct {
		name    string
		ahead   float64 // the TAT's distance ahead of Redis's clock, in seconds
		allowed bool
	}{
		{"in debt within the span", 3e6 * century, true},
		{"clamped to the span", 2e9 * century, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := testLimiter(t, "ocr", config(sharedAddr(t), prefix(t), 1/century, 1e9)) // fail-closed
			ctx := context.Background()
			if err := l.client.Set(ctx, l.Key(), strconv.FormatFloat(redisNow(t, l)+tt.ahead, 'f', -1, 64), 0).Err(); err != nil {
				t.Fatal(err)
			}
			d, err := l.Take(ctx, 0)
			if err != nil || d.Allowed != tt.allowed || !d.Allowed && d.RetryAfter <= 0 {
				t.Fatalf("Take = %+v, %v; want Allowed %v, and no fault", d, err, tt.allowed)
			}
			// In seconds, as Redis answers: 1e15s overflows a Duration.
			if ttl, err := l.client.Do(ctx, "TTL", l.Key()).Int64(); err != nil || ttl <= 0 || ttl > 1e15 {
				t.Fatalf("key TTL %ds, %v; want an expiry of at most 1e15s", ttl, err)
			}
		})
	}
}
