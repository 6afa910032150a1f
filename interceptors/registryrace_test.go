package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// Two suites that share a breaker registry (WithBreakerRegistry) and build the same new
// breaker at once get one breaker: each made its own, the last one committed took the name,
// and the calls of the other suite went through a breaker the registry no longer held (its
// state invisible to the registry's Levels and to the other suite). The interleaving is
// forced: suite a's reload builds the breaker, then, before it commits, a fleet-wide limiter's
// factory of a later service starts suite b's reload of the same breaker (which waits for a's
// to end: see aside).

const raceSvc = "test.v1.RaceBreaker"

// raceCfg configures raceSvc's breaker (open after one failure, for an hour); later is yaml of
// services after it.
func raceCfg(t *testing.T, later string) *config.Config {
	t.Helper()
	c, _, err := config.Parse("race.yaml", fmt.Appendf(nil, `
services:
  test.v1.Other:
    methods: {Do: {}}
%s
%s`, "  "+raceSvc+":\n    breaker: {consecutive_failures: 1, recovery_timeout: 1h}\n    methods: {Do: {}}", later))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSuitesSharingARegistryBuildOneBreaker(t *testing.T) {
	for _, tt := range []struct {
		name string
		addr string // of a's later fleet-wide limiter; downAddr: a's reload is rejected
	}{
		{"both commit", "127.0.0.1:1"},
		{"first rejected", downAddr},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := &breaker.Registry{}
			clk := interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0)))
			b, err := interceptors.New(&config.Config{}, clk, interceptors.WithBreakerRegistry(reg))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var bErr error
			wait := func() {}
			factory := func(_ string, cfg ratelimit.Config, _ ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
				// a's chain of raceSvc is built, its breaker not yet in the registry: b
				// builds the same breaker.
				wait = aside(b, func() { bErr = b.Reload(raceCfg(t, "")) })
				if cfg.Redis.Addr == downAddr {
					return nil, nil, errDown
				}
				return allowing{}, nil, nil
			}
			a, err := interceptors.New(&config.Config{}, clk, interceptors.WithBreakerRegistry(reg), interceptors.WithRemoteLimiter(factory))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			later := fmt.Sprintf("  test.v1.Zlater:\n    rate_limit: {rate: 5, redis: {addr: %q}}\n    methods: {Do: {}}", tt.addr)
			aErr := a.Reload(raceCfg(t, later))
			wait()
			if bErr != nil {
				t.Fatalf("b's reload: %v", bErr)
			}
			held, ok := reg.Lookup(raceSvc)
			if !ok {
				t.Fatal("the registry holds no breaker of the service")
			}
			call := func(s *interceptors.Suite, err error) error {
				inv := &testkit.CountingInvoker{Err: err}
				return s.Unary()(context.Background(), "/"+raceSvc+"/Do", nil, nil, nil, inv.Invoke)
			}
			_ = call(b, unavailable())
			if got := held.State(); got != breaker.Open {
				t.Errorf("the registry's breaker after b's call failed: %v, want open (b's calls go through another breaker)", got)
			}
			if tt.addr == downAddr {
				if !errors.Is(aErr, errDown) {
					t.Fatalf("a's reload: %v, want %v", aErr, errDown)
				}
				return
			}
			if aErr != nil {
				t.Fatalf("a's reload: %v", aErr)
			}
			if err := call(a, nil); !errors.Is(err, breaker.ErrOpen) {
				t.Errorf("a's call after b's failed: %v, want breaker.ErrOpen (one breaker for both suites)", err)
			}
		})
	}
}
