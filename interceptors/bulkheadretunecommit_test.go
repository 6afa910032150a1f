package interceptors_test

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// A reload that changes only a bulkhead's max_wait gives the kept bulkhead its new wait as the
// reload commits, when the new configuration is published: it gave it as the chain was built,
// so that calls on the old chains waited by the new max_wait before the reload took effect,
// and a reload rejected later (another service's chain failed to build) applied it for a
// while before restoring the old one.
func TestReloadAppliesMaxWaitAtCommit(t *testing.T) {
	for _, tt := range []struct {
		name string
		addr string // of the later service's fleet-wide limiter; downAddr: its build fails
		want time.Duration
	}{
		{"committed", "127.0.0.1:1", 0},
		{"rejected", downAddr, 50 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			during := time.Duration(-1)
			var seen func() time.Duration
			factory := func(_ string, cfg ratelimit.Config, _ ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
				// Built after maxWaitSvc's chain: the bulkhead is kept by then.
				during = seen()
				if cfg.Redis.Addr == downAddr {
					return nil, nil, errDown
				}
				return allowing{}, nil, nil
			}
			s, err := interceptors.New(maxWaitCfg(t, "", 50*time.Millisecond, "    methods: {Do: {}}"),
				interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))), interceptors.WithRemoteLimiter(factory))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := s.Bulkheads()[maxWaitSvc]
			seen = func() time.Duration { return before.Config().MaxWait }
			later := fmt.Sprintf("  test.v1.Zlater:\n    rate_limit: {rate: 5, redis: {addr: %q}}\n    methods: {Do: {}}", tt.addr)
			err = s.Reload(maxWaitCfg(t, "", 0, "    methods: {Do: {}}", later))
			if tt.addr == downAddr && !errors.Is(err, errDown) {
				t.Fatalf("Reload: %v, want %v", err, errDown)
			} else if tt.addr != downAddr && err != nil {
				t.Fatal(err)
			}
			if during != 50*time.Millisecond {
				t.Errorf("the bulkhead's max wait while the reload built = %v, want the 50ms in force (the new 0s only once the reload commits)", during)
			}
			if after := s.Bulkheads()[maxWaitSvc]; after != before {
				t.Fatalf("the bulkhead was replaced (%p, was %p)", after, before)
			}
			if got := before.Config().MaxWait; got != tt.want {
				t.Errorf("max wait after the reload = %v, want %v", got, tt.want)
			}
		})
	}
}

// A chain built by a reload that turns a bulkhead's max_wait from 0s (no wait) to 1s takes the
// bulkhead for one that may wait: its attempts do not leave their per-attempt timeout to grpc's
// (unaryChain.kept), which does not bound the wait for a slot. The chain asks its gates whether
// they wait once the reload has given the kept bulkhead its new max wait, at the commit.
func TestReloadOfMaxWaitTellsTheChainItWaits(t *testing.T) {
	const retried = "    retry: {max_attempts: 2, per_attempt_timeout: 5s}\n    methods: {Do: {}}"
	s, err := interceptors.New(maxWaitCfg(t, "", 0, retried))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := manual.NewBuilderWithScheme("retune")
	cc, err := grpc.NewClient(r.Scheme()+":///x", grpc.WithResolvers(r), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	sc := `{"methodConfig":[{"name":[{"service":"` + maxWaitSvc + `"}],"timeout":"5s"}]}`
	r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: "x.invalid:1"}}, ServiceConfig: r.CC().ParseServiceConfig(sc)})
	const m = "/" + maxWaitSvc + "/Do"
	if got := interceptors.KeptTimeout(s, cc, m, time.Time{}); got != 5*time.Second {
		t.Fatalf("before the reload (max_wait 0s): kept %v, want grpc's 5s", got)
	}
	before := s.Bulkheads()[maxWaitSvc]
	if err := s.Reload(maxWaitCfg(t, "", time.Second, retried)); err != nil {
		t.Fatal(err)
	}
	if after := s.Bulkheads()[maxWaitSvc]; after != before {
		t.Fatalf("the bulkhead was replaced (%p, was %p)", after, before)
	}
	if got := interceptors.KeptTimeout(s, cc, m, time.Time{}); got != 0 {
		t.Errorf("after the reload to max_wait 1s: kept %v, want 0 (the bulkhead may wait)", got)
	}
}
