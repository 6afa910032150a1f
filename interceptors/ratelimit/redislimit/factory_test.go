package redislimit

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/redis/go-redis/v9"
)

// TestFactory: with a client the factory's limiters share it and their Closer leaves it open;
// without one the factory dials the section's address and the last limiter's Closer closes
// that client. The
// suite's service reaches the events.
func TestFactory(t *testing.T) {
	addr := sharedAddr(t)
	client := newClient(t, addr)
	rec := &testkit.Recorder{}
	env := ratelimit.RemoteEnv{Service: "kyc.v1.OCRService", Clock: clock.Real, Sink: rec}

	lim, closer, err := Factory(client)("factory-shared", config(addr, "t:factory:", 1, 1), env)
	if err != nil {
		t.Fatal(err)
	}
	l := lim.(*Limiter)
	t.Cleanup(func() { _ = client.Del(context.Background(), l.Key()).Err() })
	if l.client != client || l.owned || l.service != env.Service {
		t.Fatalf("limiter with a client: same client %v, owned %v, service %q", l.client == client, l.owned, l.service)
	}
	if d := take(t, l); !d.Allowed {
		t.Fatal("first token refused")
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("the factory's Closer closed the caller's client: %v", err)
	}

	lim, closer, err = Factory(nil, WithProbeInterval(0))("factory-own", config(addr, "t:factory:", 1, 1), env)
	if err != nil {
		t.Fatal(err)
	}
	own := lim.(*Limiter)
	if own.owned || own.probe != 0 {
		t.Fatalf("limiter without a client: owned %v, probe %v (want the factory's client and option)", own.owned, own.probe)
	}
	_ = own.client.Del(ctx, own.Key()).Err()
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := own.client.Ping(ctx).Err(); err == nil {
		t.Fatal("the Closer of the factory's only limiter of an address left its client open")
	}

	if _, _, err := Factory(nil)("factory-none", ratelimit.Config{Rate: 1}, env); err == nil {
		t.Fatal("a section without redis built a Redis limiter")
	}
}

// TestFactorySharesOneClientPerAddress: a factory without a client dials one client per
// address and timeout, shared by the limiters it builds (services of one Redis, and the
// limiters a reload makes in place of others, which the suite closes only when it closes): each
// limiter dialed a client of its own, so every reload that changed a rate opened one more
// connection pool for the life of the suite. The client closes with its last limiter.
func TestFactorySharesOneClientPerAddress(t *testing.T) {
	f := Factory(nil)
	env := ratelimit.RemoteEnv{Service: "kyc.v1.OCRService", Clock: clock.Real}
	const addr = "127.0.0.1:1" // never dialed: no call is made
	var (
		limiters []*Limiter
		closers  []io.Closer
	)
	for _, cfg := range []ratelimit.Config{
		config(addr, "t:share:", 10, 5),
		config(addr, "t:share:", 20, 5), // the same bucket after a reload that changed its rate
		config(addr, "t:other:", 1, 1),  // another service's bucket on the same Redis
	} {
		lim, closer, err := f("share", cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		limiters, closers = append(limiters, lim.(*Limiter)), append(closers, closer)
	}
	for i, l := range limiters[1:] {
		if l.client != limiters[0].client {
			t.Fatalf("limiter %d of the same address has a client of its own", i+1)
		}
	}
	slow := config(addr, "t:share:", 10, 5)
	slow.Redis = &ratelimit.RedisConfig{Addr: addr, KeyPrefix: "t:share:", Timeout: 2 * time.Second}
	lim, closer, err := f("share", slow, env)
	if err != nil {
		t.Fatal(err)
	}
	if lim.(*Limiter).client == limiters[0].client {
		t.Fatal("a limiter of another timeout shares the client")
	}
	_ = closer.Close()

	shared := limiters[0].client
	ctx := context.Background()
	for _, c := range closers[:2] {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		_ = c.Close() // twice gives back one use
	}
	if err := shared.Ping(ctx).Err(); errors.Is(err, redis.ErrClosed) {
		t.Fatal("the shared client closed while a limiter still uses it")
	}
	if err := closers[2].Close(); err != nil {
		t.Fatal(err)
	}
	if err := shared.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("after its last limiter closed: %v, want redis.ErrClosed", err)
	}
	// A limiter built after that dials afresh.
	lim, closer, err = f("share", config(addr, "t:share:", 10, 5), env)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if lim.(*Limiter).client == shared {
		t.Fatal("a limiter built after the last one closed got the closed client")
	}
}
