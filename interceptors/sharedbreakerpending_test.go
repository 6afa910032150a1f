package interceptors_test

import (
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
)

// Two suites sharing a breaker registry build a new breaker of one name at once, with
// different settings: each made its own, and the one that committed last took the name from
// the other, whose calls went on through a breaker the registry no longer held. The build
// that asks for other settings than a build of another suite under way is refused, as it
// would be once that build committed. The interleaving is forced: suite a's reload builds the
// breaker, then, before it commits, a fleet-wide limiter's factory of a later service runs
// suite b's reload (which waits for a's to end: see aside).
func TestSuitesBuildingOneSharedBreakerWithOtherSettingsConflict(t *testing.T) {
	reg := &breaker.Registry{}
	clk := interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0)))
	b, err := interceptors.New(&config.Config{}, clk, interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var bErr error
	wait := func() {}
	factory := func(_ string, _ ratelimit.Config, _ ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		wait = aside(b, func() { bErr = b.Reload(shareReloadCfg(3)) })
		return allowing{}, nil, nil
	}
	a, err := interceptors.New(&config.Config{}, clk, interceptors.WithBreakerRegistry(reg), interceptors.WithRemoteLimiter(factory))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg := shareReloadCfg(1)
	later, _, err := config.Parse("later.yaml", fmt.Appendf(nil,
		"services:\n  test.v1.Zlater:\n    rate_limit: {rate: 5, redis: {addr: %q}}\n    methods: {Do: {}}\n", "127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Services["test.v1.Zlater"] = later.Services["test.v1.Zlater"]
	err = a.Reload(cfg)
	wait()
	if err != nil {
		t.Fatalf("a's reload: %v", err)
	}
	if !errors.Is(bErr, breaker.ErrSharedConflict) {
		t.Errorf("b's reload of the breaker with other settings while a built it: %v, want breaker.ErrSharedConflict", bErr)
	}
	held, _ := reg.Lookup(shareReloadSvc)
	_ = shareReloadCall(a, unavailable())
	if held == nil || held.State() != breaker.Open {
		t.Errorf("the registry's breaker after a's failure: %v, want open (a's calls go through it)", held)
	}
	if err := shareReloadCall(b, nil); err != nil {
		t.Errorf("b's call of a service its configuration in force lacks: %v, want it passed through", err)
	}
}
