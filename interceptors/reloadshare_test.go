package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Two suites sharing a breaker registry (WithBreakerRegistry) each checked what they publish
// against the registry under their own lock alone: a reload (or a first call's build) of one
// took the breaker of a name, and before it published its hold, the other's reload replaced
// that breaker, or the other's first call took the breaker about to be replaced. Both went
// on, one suite's calls through a breaker the registry no longer held: two breakers of one
// name in use, an outcome no order of the two could give. A suite now holds the registry's
// build lock from its checks to its publish: the other comes after it, and is refused or
// builds as it would then. The interleavings are forced: a fleet-wide limiter's factory, run
// by a's build after its breaker, starts b's act, and a goes on once b waits for the lock
// (or, without it, once b is done).

const checkPublishSvc = "test.v1.CheckPublish"

// checkPublishCfg configures checkPublishSvc's breaker to open after n failures for an hour;
// listed: its method Do is listed (its chain built at the reload); limiter: it has a
// fleet-wide limiter too (after the breaker in its chain); later: a later service with one.
func checkPublishCfg(t *testing.T, n int, listed, limiter, later bool) *config.Config {
	t.Helper()
	y := fmt.Sprintf("services:\n  %s:\n    breaker: {consecutive_failures: %d, recovery_timeout: 1h}\n", checkPublishSvc, n)
	if listed {
		y += "    methods: {Do: {}}\n"
	}
	if limiter {
		y += "    rate_limit: {rate: 5, redis: {addr: \"127.0.0.1:1\"}}\n"
	}
	if later {
		y += "  test.v1.Zlater:\n    rate_limit: {rate: 5, redis: {addr: \"127.0.0.1:1\"}}\n    methods: {Do: {}}\n"
	}
	c, _, err := config.Parse("checkpublish.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// aside runs f, an act of suite s, on a goroutine of its own and returns once f returned or s
// waits for the build lock of the breaker registry it shares; wait waits for f.
func aside(s *interceptors.Suite, f func()) (wait func()) {
	done, waiting := make(chan struct{}), make(chan struct{})
	var once sync.Once
	interceptors.SetSharedWait(s, func() { once.Do(func() { close(waiting) }) })
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-waiting:
	}
	return func() { <-done }
}

// onceFactory is a RemoteFactory whose first limiter runs act first.
func onceFactory(act func()) interceptors.Option {
	var once sync.Once
	return interceptors.WithRemoteLimiter(func(string, ratelimit.Config, ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		once.Do(act)
		return allowing{}, nil, nil
	})
}

func TestSuitesSharingARegistryCheckAndPublishOneAtATime(t *testing.T) {
	clk := interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0)))
	newSuite := func(t *testing.T, reg *breaker.Registry, cfg *config.Config, opts ...interceptors.Option) *interceptors.Suite {
		t.Helper()
		s, err := interceptors.New(cfg, append([]interceptors.Option{clk, interceptors.WithBreakerRegistry(reg)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	call := func(s *interceptors.Suite, err error) error {
		return shareCall(s, "/"+checkPublishSvc+"/Do", err)
	}

	t.Run("a reload, then b's reload", func(t *testing.T) {
		// b holds the breaker (consecutive_failures 1); a's reload takes it with the same
		// settings, and b's reload would make it 3 in between.
		reg := &breaker.Registry{}
		b := newSuite(t, reg, checkPublishCfg(t, 1, true, false, false))
		var bErr error
		var wait func()
		a := newSuite(t, reg, &config.Config{}, onceFactory(func() {
			wait = aside(b, func() { bErr = b.Reload(checkPublishCfg(t, 3, true, false, false)) })
		}))
		if err := a.Reload(checkPublishCfg(t, 1, true, false, true)); err != nil {
			t.Fatalf("a's reload: %v", err)
		}
		wait()
		if !errors.Is(bErr, breaker.ErrSharedConflict) || !strings.Contains(bErr.Error(), "consecutive_failures: 3") {
			t.Fatalf("b's reload of the breaker a's reload took meanwhile: %v, want breaker.ErrSharedConflict naming consecutive_failures: 3", bErr)
		}
		_ = call(b, unavailable())
		if err := call(a, nil); !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("a's call after b's failed: %v, want breaker.ErrOpen (one breaker for both suites)", err)
		}
	})

	t.Run("a reload, then b's first call", func(t *testing.T) {
		// a holds the breaker alone (1) and its reload replaces it (3); b's configuration has
		// the breaker at 1, its chain built at b's first call, which would come in between.
		reg := &breaker.Registry{}
		b := newSuite(t, reg, checkPublishCfg(t, 1, false, false, false))
		var bErr error
		var wait func()
		a := newSuite(t, reg, checkPublishCfg(t, 1, true, false, false), onceFactory(func() {
			wait = aside(b, func() { bErr = call(b, unavailable()) })
		}))
		if err := a.Reload(checkPublishCfg(t, 3, true, false, true)); err != nil {
			t.Fatalf("a's reload: %v", err)
		}
		wait()
		if status.Code(bErr) != grpccodes.FailedPrecondition || !strings.Contains(bErr.Error(), "consecutive_failures: 1") {
			t.Fatalf("b's first call while a's reload replaced the breaker: %v, want FailedPrecondition naming consecutive_failures: 1 "+
				"(after a's reload, b's build asks for other settings than the breaker a holds)", bErr)
		}
		if br, ok := reg.Lookup(checkPublishSvc); !ok || br.Config().ConsecutiveFailures != 3 {
			t.Errorf("the registry's breaker: %v (held: %v), want a's, of consecutive_failures 3", br, ok)
		}
	})

	t.Run("a first call, then b's reload", func(t *testing.T) {
		// b holds the breaker (1); a's first call takes it with the same settings, and b's
		// reload would make it 3 before a's build holds it.
		reg := &breaker.Registry{}
		b := newSuite(t, reg, checkPublishCfg(t, 1, true, false, false))
		var bErr error
		var wait func()
		a := newSuite(t, reg, checkPublishCfg(t, 1, false, true, false), onceFactory(func() {
			wait = aside(b, func() { bErr = b.Reload(checkPublishCfg(t, 3, true, false, false)) })
		}))
		if err := call(a, nil); err != nil {
			t.Fatalf("a's first call: %v", err)
		}
		wait()
		if !errors.Is(bErr, breaker.ErrSharedConflict) || !strings.Contains(bErr.Error(), "consecutive_failures: 3") {
			t.Fatalf("b's reload of the breaker a's first call took meanwhile: %v, want breaker.ErrSharedConflict naming consecutive_failures: 3", bErr)
		}
		_ = call(a, unavailable())
		if err := call(b, nil); !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("b's call after a's failed: %v, want breaker.ErrOpen (one breaker for both suites)", err)
		}
	})
}

// A suite's sink is called with the registry's build lock let go: one that reloads, or makes
// a first call through, another suite sharing the registry from its Observe would otherwise
// wait for the lock its own suite holds.
func TestSinkCallsIntoASuiteSharingTheRegistry(t *testing.T) {
	reg := &breaker.Registry{}
	clk := interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0)))
	b, err := interceptors.New(&config.Config{}, clk, interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kinds := map[observe.Kind]int{}
	var mu sync.Mutex
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind != observe.BreakerPublished && e.Kind != observe.Retired {
			return
		}
		mu.Lock()
		kinds[e.Kind]++
		mu.Unlock()
		if u := reg.User(); !u.TryLockBuilds() {
			t.Errorf("%v event sent with the registry's build lock held", e.Kind)
		} else {
			u.UnlockBuilds()
		}
		if err := b.Reload(checkPublishCfg(t, 1, false, false, false)); err != nil {
			t.Errorf("b's reload from a's sink: %v", err)
		}
		if err := shareCall(b, "/test.v1.FromSink/Do", nil); err != nil {
			t.Errorf("b's first call from a's sink: %v", err)
		}
	})
	cfg, _, err := config.Parse("sink.yaml", []byte(`
services:
  test.v1.Sinked:
    breaker: {consecutive_failures: 1}
    bulkhead: {max_concurrent: 2}
  test.v1.SinkedListed:
    breaker: {consecutive_failures: 1}
    methods: {Do: {}}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := interceptors.New(cfg, clk, interceptors.WithBreakerRegistry(reg), interceptors.WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	// A first call's build publishes a breaker too.
	if err := shareCall(a, "/test.v1.Sinked/Do", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if kinds[observe.BreakerPublished] == 0 || kinds[observe.Retired] == 0 {
		t.Errorf("events the sink had: %v, want BreakerPublished and Retired", kinds)
	}
}

func shareCall(s *interceptors.Suite, method string, err error) error {
	inv := &testkit.CountingInvoker{Err: err}
	return s.Unary()(context.Background(), method, nil, nil, nil, inv.Invoke)
}
