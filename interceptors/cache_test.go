package interceptors_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Suites that share a breaker registry take its breaker on every build, as each chain takes
// the registry's: when one suite replaces the breaker, another's next reload picks the new one
// up although its own fingerprint held. A classifier change of a suite does not replace a
// breaker another suite holds (breaker.Registry): it keeps the shared one.
func TestSharedRegistryBreakerFollowsTheRegistry(t *testing.T) {
	const svc = "test.v1.Shared"
	const method = "/" + svc + "/Do"
	cfg := func(business bool) *config.Config {
		p := config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 3, RecoveryTimeout: time.Hour}}
		if business {
			p.Classifier = codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Business}}
		}
		return &config.Config{Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}}}
	}
	reg := &breaker.Registry{}
	a, err := interceptors.New(cfg(false), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := interceptors.New(cfg(false), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first, _ := reg.Lookup(svc)

	// a's classifier changes while b holds the breaker: a keeps the shared one.
	if err := a.Reload(cfg(true)); err != nil {
		t.Fatal(err)
	}
	if kept, _ := reg.Lookup(svc); kept != first {
		t.Fatal("a classifier change replaced the breaker another suite holds")
	}
	// b stops using it; a, its last holder, replaces it at its next classifier change.
	if err := b.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(cfg(false)); err != nil {
		t.Fatal(err)
	}
	second, _ := reg.Lookup(svc)
	if second == first {
		t.Fatal("a classifier change of the breaker's last holder kept the breaker")
	}

	// b reloads a configuration unchanged for it: its calls go through the registry's breaker.
	if err := b.Reload(cfg(false)); err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	if err := b.Unary()(context.Background(), method, nil, nil, nil, inv.Invoke); err != nil {
		t.Fatal(err)
	}
	if got, old := second.Stats().Calls, first.Stats().Calls; got != 1 || old != 0 {
		t.Fatalf("b's call reached the registry's breaker %d times and the replaced one %d, want 1 and 0", got, old)
	}
}

// A reload that turns a service's breaker off forgets it; a later reload that turns it back on
// starts a fresh, closed breaker, not the one that was open (the suite's objects start afresh
// once forgotten, and the breaker lives in a registry that would otherwise hand it back).
func TestBreakerTurnedOffAndOnStartsAfresh(t *testing.T) {
	const svc = "test.v1.Toggled"
	const method = "/" + svc + "/Do"
	cfg := func(withBreaker bool) *config.Config {
		p := config.Profile{Retry: quickRetry(1)}
		if withBreaker {
			p.Breaker = &breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}
		}
		return &config.Config{Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svc: {Profile: "p"}}}
	}
	s, err := interceptors.New(cfg(true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for range 2 {
		_ = s.Unary()(context.Background(), method, nil, nil, nil, fail.Invoke)
	}
	if err := s.Unary()(context.Background(), method, nil, nil, nil, fail.Invoke); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("after 2 failures: %v, want the breaker open", err)
	}
	if err := s.Reload(cfg(false)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(cfg(true)); err != nil {
		t.Fatal(err)
	}
	ok := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), method, nil, nil, nil, ok.Invoke); err != nil {
		t.Fatalf("first call after the breaker was turned off and on again: %v, want a fresh (closed) breaker", err)
	}
	if b, _ := s.Breakers().Lookup(svc); b == nil || b.Stats().Calls != 1 {
		t.Fatalf("registry's breaker %v: want a fresh one that saw the one call", b)
	}
}

// A reload that changes the rate of a bucket two services share takes effect (the bucket is
// replaced, and both services share the new one); a configuration that gives the shared name
// two rates is refused, and the one in force goes on.
func TestReloadChangesASharedBucketsRate(t *testing.T) {
	cfg := func(rate, other float64) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{
				"p": {RateLimit: &ratelimit.Config{Rate: rate, Shared: "b"}},
				"q": {RateLimit: &ratelimit.Config{Rate: other, Shared: "b"}},
			},
			Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}, svcOCR: {Profile: "q"}},
		}
	}
	clk := clocktest.New(time.Unix(1700000000, 0)) // no refill while the test runs
	reg := ratelimit.NewRegistry(ratelimit.WithClock(clk))
	s, err := interceptors.New(cfg(10, 10), interceptors.WithLimiterRegistry(reg), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reload(cfg(20, 20)); err != nil {
		t.Fatalf("reload to rate 20: %v", err)
	}
	// The new bucket holds 20 tokens, and both services take from it.
	ok := &testkit.CountingInvoker{}
	for i := range 20 {
		m := "/" + svcFaceMatch + "/Compare"
		if i%2 == 1 {
			m = "/" + svcOCR + "/Extract"
		}
		if err := s.Unary()(context.Background(), m, nil, nil, nil, ok.Invoke); err != nil {
			t.Fatalf("call %d of the new burst of 20: %v", i+1, err)
		}
	}
	if err := s.Unary()(context.Background(), "/"+svcOCR+"/Extract", nil, nil, nil, ok.Invoke); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("call 21: %v, want the shared bucket empty", err)
	}
	if err := s.Reload(cfg(20, 30)); err == nil || !strings.Contains(err.Error(), "profiles.q.rate_limit.shared") {
		t.Fatalf("a configuration with two rates for one shared bucket: %v, want it refused at profiles.q", err)
	}
	// The refused configuration left the one in force: the bucket is still the empty one.
	if err := s.Unary()(context.Background(), "/"+svcFaceMatch+"/Compare", nil, nil, nil, ok.Invoke); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("a call after the refused reload: %v, want the shared bucket still empty", err)
	}
}

// A method whose only override is a classifier entry keeps the service's bulkhead, so the
// service's concurrency cap is not split in two (a fixed limit, which does not classify;
// bulkheadshare_test.go has the adaptive one, which classifies with the service's).
func TestClassifierOverrideKeepsTheServiceBulkhead(t *testing.T) {
	const svc = "test.v1.Slots"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Bulkhead: &bulkhead.Config{MaxConcurrent: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{
			"Special": {Overrides: config.Overrides{Classifier: codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Business}}}},
		}}},
	}
	s, err := interceptors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := testkit.Hold(context.Background(), s.Unary(), "/"+svc+"/Do")
	inv := &testkit.CountingInvoker{}
	err = s.Unary()(context.Background(), "/"+svc+"/Special", nil, nil, nil, inv.Invoke)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if bhs := s.Bulkheads(); len(bhs) != 1 || bhs[svc] == nil {
		t.Errorf("bulkheads %v, want the service's alone", bhs)
	}
	if !errors.Is(err, bulkhead.ErrFull) {
		t.Errorf("a call of Special while Do holds the service's one slot: %v, want bulkhead.ErrFull", err)
	}
}

// After Close the suite builds nothing: a method first called then (a connection still in
// use while the program shuts down) opens no fleet-wide limiter that nothing would close, and
// Reload is refused.
func TestNothingOpenedAfterClose(t *testing.T) {
	cfg := &config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {
		RateLimit: &ratelimit.Config{Rate: 1000, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}},
	}}}
	var (
		mu      sync.Mutex
		closers []*closeCounter
	)
	factory := func(string, ratelimit.Config, ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		mu.Lock()
		defer mu.Unlock()
		c := &closeCounter{}
		closers = append(closers, c)
		return ratelimit.NewLocal(1000, 1000), c, nil
	}
	s, err := interceptors.New(cfg, interceptors.WithRemoteLimiter(factory))
	if err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	_ = s.Unary()(context.Background(), "/a.v1.Before/Do", nil, nil, nil, inv.Invoke)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Unary()(context.Background(), "/b.v1.After/Do", nil, nil, nil, inv.Invoke); status.Code(err) != grpccodes.FailedPrecondition {
		t.Errorf("a first call after Close: %v, want FailedPrecondition", err)
	}
	if err := s.Reload(cfg); !errors.Is(err, interceptors.ErrClosed) {
		t.Errorf("Reload after Close: %v, want ErrClosed", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, c := range closers {
		if c.count() != 1 {
			t.Errorf("remote limiter %d of %d: closed %d times after Close, want 1", i+1, len(closers), c.count())
		}
	}
}

// A configuration refused by Reload (here: a rate_limit.redis section with no remote limiter
// factory, refused when its limiter is built) must change nothing: the breaker of another
// service, whose settings that configuration also changed, must stay the one in force, open.
func TestRejectedReloadKeepsObjects(t *testing.T) {
	const a, z = "a.v1.First", "z.v1.Last" // a's chains are finished before z's
	cfg := func(failures int, redis bool) *config.Config {
		c := &config.Config{
			Profiles: map[string]config.Profile{
				"p": {Breaker: &breaker.Config{ConsecutiveFailures: failures, RecoveryTimeout: time.Hour}},
				"q": {RateLimit: &ratelimit.Config{Rate: 100}},
			},
			Services: map[string]config.Service{
				a: {Profile: "p", Methods: map[string]config.Method{"Do": {}}},
				z: {Profile: "q", Methods: map[string]config.Method{"Do": {}}},
			},
		}
		if redis {
			q := c.Profiles["q"]
			q.RateLimit.Redis = &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}
			c.Profiles["q"] = q
		}
		return c
	}
	s, err := interceptors.New(cfg(2, false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for range 2 {
		_ = s.Unary()(context.Background(), "/"+a+"/Do", nil, nil, nil, fail.Invoke)
	}
	open, _ := s.Breakers().Lookup(a)
	if open == nil || open.State() != breaker.Open {
		t.Fatalf("breaker of %s: %v, want open", a, open)
	}
	if err := s.Reload(cfg(3, true)); err == nil {
		t.Fatal("a configuration with rate_limit.redis and no remote factory was accepted")
	}
	if got, _ := s.Breakers().Lookup(a); got != open {
		t.Errorf("after a rejected reload the registry's breaker of %s is %p (state %v), want the one in force %p (open)", a, got, got.State(), open)
	}
	// Reloading the configuration in force keeps its objects, with their state.
	if err := s.Reload(cfg(2, false)); err != nil {
		t.Fatal(err)
	}
	ok := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), "/"+a+"/Do", nil, nil, nil, ok.Invoke); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("call after a rejected reload and a reload of the configuration in force: %v, want the breaker still open", err)
	}
}

// The same for a shared token bucket: after a rejected reload that would have changed its
// rate, the services of the configuration in force still share one bucket, first-call builds
// included.
func TestRejectedReloadKeepsSharedBucket(t *testing.T) {
	const a, z = "a.v1.First", "z.v1.Last"
	cfg := func(rate float64, redis bool) *config.Config {
		c := &config.Config{
			Profiles: map[string]config.Profile{
				config.DefaultProfile: {RateLimit: &ratelimit.Config{Rate: rate, Burst: 10, Shared: "b"}},
				"q":                   {RateLimit: &ratelimit.Config{Rate: 100}},
			},
			Services: map[string]config.Service{
				a: {Methods: map[string]config.Method{"Do": {}}},
				z: {Profile: "q", Methods: map[string]config.Method{"Do": {}}},
			},
		}
		if redis {
			c.Profiles["q"].RateLimit.Redis = &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}
		}
		return c
	}
	clk := clocktest.New(time.Unix(1700000000, 0)) // no refill
	s, err := interceptors.New(cfg(10, false), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reload(cfg(20, true)); err == nil {
		t.Fatal("a configuration with rate_limit.redis and no remote factory was accepted")
	}
	ok := &testkit.CountingInvoker{}
	for i := range 10 {
		if err := s.Unary()(context.Background(), "/"+a+"/Do", nil, nil, nil, ok.Invoke); err != nil {
			t.Fatalf("call %d of the burst of 10: %v", i+1, err)
		}
	}
	// Bucket b is empty: a service first called now (default profile, same bucket) is limited.
	if err := s.Unary()(context.Background(), "/other.v1.Svc/Do", nil, nil, nil, ok.Invoke); !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("first call of another service sharing the emptied bucket b: %v, want ratelimit.ErrLimited", err)
	}
}
