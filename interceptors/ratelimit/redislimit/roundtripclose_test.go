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

// Regression: a TakeConn whose round trip waits on a stalled Redis when its ClientConn shuts
// down returned only when the Redis timeout ran out (a minute here, so that no busy machine
// mistakes one for the other), or when Redis answered: its sleeps ended at the shutdown, its
// round trip did not. It returns ratelimit.ErrConnClosing at once, as a canceled caller's
// Take returns ctx.Err(): Redis is not blamed (no fail mode answers, Degraded does not rise,
// no probe pause starts), so the next Take, Redis answering again, asks Redis. Under a context
// that can be canceled (a gRPC call's, whose round trip ran on a goroutine already) and under
// one that cannot.
func TestTakeConnRoundTripEndsAtConnClose(t *testing.T) {
	for _, cancelable := range []bool{false, true} {
		t.Run(map[bool]string{false: "background context", true: "cancelable context"}[cancelable], func(t *testing.T) {
			testTakeConnRoundTripEndsAtConnClose(t, cancelable)
		})
	}
}

func testTakeConnRoundTripEndsAtConnClose(t *testing.T, cancelable bool) {
	srv := ownServer(t)
	fake := clocktest.New(time.Time{})
	cfg := config(srv.addr, prefix(t), 1000, 1000)
	cfg.Redis.Timeout = time.Minute
	cfg.Redis.FailOpen = true // a fault the limiter blamed on Redis would be answered, and counted
	l, wrote := signalLimiter(t, cfg, WithClock(fake))
	healthy(t, fake, l)
	cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if cancelable {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
	}

	srv.stall()
	defer srv.resume() // before the limiter's cleanup; lets the round trip left behind end
	degraded := l.Degraded()
	drain(wrote)
	err = testkit.ConnWait{
		What: "TakeConn waiting on a stalled Redis (timeout 1m)", Over: "Redis resumed",
		Call: func() error {
			_, err := l.TakeConn(ctx, cc, time.Hour)
			return err
		},
		Parked: func() { waitWrite(t, wrote, "TakeConn") }, // its reply awaited from the stalled Redis
		Unpark: srv.resume,
	}.Start().CloseConn(t, cc)
	if !errors.Is(err, ratelimit.ErrConnClosing) {
		t.Fatalf("TakeConn = %v, want ratelimit.ErrConnClosing", err)
	}
	if n := l.Degraded() - degraded; n != 0 {
		t.Errorf("Degraded() rose by %d for the ClientConn's shutdown, want 0", n)
	}
	if p := l.pausedUntil.Load(); p != 0 {
		t.Errorf("a probe pause (until %v after base) started for the ClientConn's shutdown, want none", time.Duration(p))
	}

	srv.resume()
	trips := l.trips.Load()
	if d := take(t, l); !d.Allowed || l.Degraded() != degraded || l.trips.Load() == trips {
		t.Errorf("Take after Redis resumed = %+v, Degraded rose by %d, asked Redis %v; want Allowed by Redis",
			d, l.Degraded()-degraded, l.trips.Load() != trips)
	}
}
