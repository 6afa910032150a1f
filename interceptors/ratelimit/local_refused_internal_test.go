package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// A refused take must say when to come back from the reading that refused it, never 0: a
// caller that retries after RetryAfter would spin. Before, the refusal read the bucket a second
// time for RetryAfter; a waiter giving its token back in between (giveBack moves full back a
// token) made that second reading find the token due at the take's own tick, and RetryAfter 0.
func TestRefusedRetryAfterFromTheRefusingReading(t *testing.T) {
	clk := clocktest.New(time.Time{})
	// 1000 tokens/s, burst 1: a token is 1ms, and a tick exactly a nanosecond.
	l := NewLocal(1000, 1, WithClock(clk))
	ctx := context.Background()
	if d, _ := l.Take(ctx, 0); !d.Allowed {
		t.Fatal("first take refused")
	}
	// A waiter reserves the next token, due at 1ms: full moves from 1ms to 2ms.
	const per = int64(time.Millisecond)
	if !l.full.CompareAndSwap(per, 2*per) {
		t.Fatalf("full = %d, want %d", l.full.Load(), per)
	}
	// A take at 1ms, when the waiter's token falls due, finds it reserved and is refused; the
	// waiter gives its token back before the refusal answers.
	testHookRefused = func() { l.giveBack(2*per, per) }
	defer func() { testHookRefused = nil }()
	d, err := l.take(ctx, 0, clk.Now().Add(time.Millisecond))
	if err != nil || d.Allowed {
		t.Fatalf("take at 1ms = %+v, %v; want refused", d, err)
	}
	if d.RetryAfter != time.Millisecond {
		t.Errorf("RetryAfter = %v, want 1ms (the next token after the one the refusing reading saw reserved)", d.RetryAfter)
	}
}
