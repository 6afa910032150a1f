package redislimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestGuardWaitEndsAtConnClose: a fail-open TakeConn that the local guard answers (Redis
// refuses every dial) and that sleeps (on a fake clock nothing advances) until the guard's
// next token, an hour away, when its ClientConn shuts down, returns ratelimit.ErrConnClosing
// at once, and the guard's token it had reserved is given back, as for a context that ends
// there: an hour on, the guard admits a Take again (it would wait another hour were the token
// still reserved). Take, given no ClientConn, would sleep on.
func TestGuardWaitEndsAtConnClose(t *testing.T) {
	fake := clocktest.New(time.Time{})
	cfg := config(deadAddr(t), prefix(t), 1.0/3600, 1)
	cfg.Redis.FailOpen = true
	l := testLimiter(t, "ocr", cfg, WithClock(fake))
	if d := take(t, l); !d.Allowed { // Redis refused: the guard's one token
		t.Fatalf("first Take with Redis down = %+v, want Allowed by the guard", d)
	}
	cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	err = testkit.ConnWait{
		What: "TakeConn sleeping for the fail-open guard's token", Over: "its 1h sleep was over",
		Call: func() error {
			_, err := l.TakeConn(context.Background(), cc, 2*time.Hour)
			return err
		},
		Parked: func() { fake.BlockUntil(1) }, // the guard's token reserved, sleeping until it
		Unpark: func() { fake.Advance(3 * time.Hour) },
	}.Start().CloseConn(t, cc)
	if !errors.Is(err, ratelimit.ErrConnClosing) {
		t.Fatalf("TakeConn = %v, want ratelimit.ErrConnClosing", err)
	}
	if n := l.Degraded(); n != 2 {
		t.Errorf("Degraded() = %d, want 2: both takes answered by the guard", n)
	}
	if n := fake.Timers(); n != 0 {
		t.Errorf("%d timers left on the fake clock, want 0", n)
	}
	fake.Advance(time.Hour)
	if d := take(t, l); !d.Allowed {
		t.Errorf("Take an hour on = %+v, want Allowed: the token the closed TakeConn had reserved was given back", d)
	}
}
