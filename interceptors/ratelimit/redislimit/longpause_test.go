package redislimit

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// Regression: a probe interval near the longest Duration overflowed the pause's end, which
// then lay in the past: no pause held, and every call asked Redis, the opposite of what so
// long an interval asks for. No Redis is needed: nothing listens on the address.
func TestLongestProbeIntervalPauses(t *testing.T) {
	addr := deadAddr(t)
	cfg := ratelimit.Config{Rate: 1, Redis: &ratelimit.RedisConfig{Addr: addr, Timeout: time.Second}}
	c := clocktest.New(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	l, err := New("kyc.v1.OCRService", cfg, WithClock(c), WithProbeInterval(math.MaxInt64))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c.Advance(time.Hour) // the pause starts well after the limiter's base
	for i := range 3 {
		if _, err := l.Take(context.Background(), 0); err == nil {
			t.Fatalf("take %d against a closed port: no error, want the fail-closed refusal", i+1)
		}
		c.Advance(time.Hour)
	}
	if n := l.trips.Load(); n != 1 {
		t.Fatalf("%d round trips over 3 takes, want 1: the pause after the first failure holds", n)
	}
}

// A token due at the caller's deadline leaves the call no time: Take does not wait for it, as
// the local bucket does not.
func TestTokenAtTheDeadlineDoesNotFit(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(100*time.Millisecond))
	defer cancel()
	far := now.Add(time.Hour)
	if fits(ctx, now, 100*time.Millisecond, far) {
		t.Error("a token due at the deadline fits")
	}
	if !fits(ctx, now, 99*time.Millisecond, far) {
		t.Error("a token due before the deadline does not fit")
	}
}
