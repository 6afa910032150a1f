package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// A waiter whose context ends at the very tick its token falls due gives the token back, as
// x/time/rate's CancelAt does (it keeps a reservation only once the reservation's time has
// passed): the call it reserved for is not made, so the token is not spent. A tick later the
// token is spent and stays taken.
func TestGiveBackAtTheDueTick(t *testing.T) {
	// 1000 tokens/s, burst 1: a token is 1ms, and a tick exactly a nanosecond.
	const per = int64(time.Millisecond)
	for _, tt := range []struct {
		name       string
		at         time.Duration // when the waiter gives its token back
		wantFull   int64
		wantTokens float64
	}{
		{name: "at the due tick", at: time.Millisecond, wantFull: per, wantTokens: 1},
		{name: "a tick after it", at: time.Millisecond + time.Nanosecond, wantFull: 2 * per, wantTokens: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			l := NewLocal(1000, 1, WithClock(clk))
			if d, _ := l.Take(context.Background(), 0); !d.Allowed {
				t.Fatal("first take refused")
			}
			// A waiter reserves the next token, due at 1ms: full moves from 1ms to 2ms.
			if !l.full.CompareAndSwap(per, 2*per) {
				t.Fatalf("full = %d, want %d", l.full.Load(), per)
			}
			clk.Advance(tt.at)
			l.giveBack(2*per, per)
			if got := l.full.Load(); got != tt.wantFull {
				t.Errorf("full after giveBack at %v = %d, want %d", tt.at, got, tt.wantFull)
			}
			if got := l.Tokens(); got < tt.wantTokens-1e-5 || got > tt.wantTokens+1e-5 {
				t.Errorf("Tokens() after giveBack at %v = %v, want %v", tt.at, got, tt.wantTokens)
			}
		})
	}
}
