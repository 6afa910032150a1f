package redislimit

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestFactory: with a client the factory's limiters share it and their Closer leaves it open;
// without one each limiter dials the section's address and its Closer closes its client. The
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
	if !own.owned || own.probe != 0 {
		t.Fatalf("limiter without a client: owned %v, probe %v (want its own client and the factory's option)", own.owned, own.probe)
	}
	_ = own.client.Del(ctx, own.Key()).Err()
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}

	if _, _, err := Factory(nil)("factory-none", ratelimit.Config{Rate: 1}, env); err == nil {
		t.Fatal("a section without redis built a Redis limiter")
	}
}
