package interceptors_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A reload is all or nothing: when one chain of a configuration fails to build (a fleet-wide
// limiter whose factory fails), the objects other chains of it built are released, and the
// suite, its object cache, its breaker registry and its limiter registry stay as they were.

// errDown is what remoteFactory fails with for downAddr.
var errDown = errors.New("remote limiter store down")

const downAddr = "127.0.0.9:9"

// allowing is a remote limiter that allows every call.
type allowing struct{}

func (allowing) Take(context.Context, time.Duration) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: true}, nil
}

// remoteFactory is a RemoteFactory that fails for downAddr and counts the limiters
// it made, each with a closer of its own.
type remoteFactory struct {
	mu    sync.Mutex
	built []*closeCounter
	keys  []string
}

func (f *remoteFactory) make(key string, cfg ratelimit.Config, _ ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
	if cfg.Redis.Addr == downAddr {
		return nil, nil, errDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &closeCounter{}
	f.built = append(f.built, c)
	f.keys = append(f.keys, key)
	return allowing{}, c, nil
}

// closes returns how many times each limiter made was closed, in the order they were made.
func (f *remoteFactory) closes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, len(f.built))
	for i, c := range f.built {
		out[i] = c.count()
	}
	return out
}

// stagedConfig gives FaceMatch a breaker tripping after failures failures and a fleet-wide
// limiter at rate, and OCR a fleet-wide limiter on ocrAddr (downAddr: its factory fails), and a
// shared bucket at sharedRate for both.
func stagedConfig(failures int, rate float64, ocrAddr string, sharedRate float64) *config.Config {
	return &config.Config{
		Profiles: map[string]config.Profile{
			"face": {
				Breaker:   &breaker.Config{ConsecutiveFailures: failures, RecoveryTimeout: time.Hour},
				RateLimit: &ratelimit.Config{Rate: rate, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}},
			},
			"ocr": {RateLimit: &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: ocrAddr}}},
			"liveness": {
				RateLimit: &ratelimit.Config{Rate: sharedRate, Shared: "kyc"},
			},
		},
		Services: map[string]config.Service{
			svcFaceMatch: {Profile: "face"},
			svcOCR:       {Profile: "ocr"},
			svcLiveness:  {Profile: "liveness"},
		},
	}
}

// breakerLevels returns the states of the suite's breakers (Suite.Levels) by service.
func breakerLevels(s *interceptors.Suite) map[string]string {
	out := map[string]string{}
	s.Levels(func(l observe.Level) bool {
		if l.Policy == observe.PolicyBreaker {
			out[l.Service] = l.State
		}
		return true
	})
	return out
}

func TestRejectedReloadChangesNothing(t *testing.T) {
	clk := clocktest.New(time.Unix(1700000000, 0))
	reg := &breaker.Registry{}
	limiters := ratelimit.NewRegistry(ratelimit.WithClock(clk))
	f := &remoteFactory{}
	s, err := interceptors.New(stagedConfig(2, 100, "127.0.0.1:2", 10), interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg),
		interceptors.WithLimiterRegistry(limiters), interceptors.WithRemoteLimiter(f.make))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := f.closes(); len(got) != 2 {
		t.Fatalf("New made %d remote limiters, want 2 (FaceMatch's and OCR's)", len(got))
	}

	// Trip FaceMatch's breaker open.
	inv := &testkit.CountingInvoker{Err: unavailable()}
	compare := "/" + svcFaceMatch + "/Compare"
	for range 2 {
		_ = s.Unary()(context.Background(), compare, nil, nil, nil, inv.Invoke)
	}
	open, ok := reg.Lookup(svcFaceMatch)
	if !ok || open.State() != breaker.Open {
		t.Fatalf("FaceMatch's breaker after 2 failures: found %v, want open", ok)
	}
	levels := breakerLevels(s)
	// The shared bucket the configuration in force uses.
	bucket, err := limiters.Local(ratelimit.Config{Rate: 10, Shared: "kyc"})
	if err != nil {
		t.Fatal(err)
	}

	// FaceMatch's breaker, FaceMatch's limiter and the shared bucket change; OCR's limiter
	// fails to build.
	err = s.Reload(stagedConfig(3, 200, downAddr, 20))
	if !errors.Is(err, errDown) {
		t.Fatalf("Reload with a failing remote limiter: %v, want the factory's error", err)
	}

	if b, ok := reg.Lookup(svcFaceMatch); !ok || b != open || b.State() != breaker.Open {
		t.Errorf("after the rejected reload the registry's breaker is another or not open (same %v)", b == open)
	}
	if got := breakerLevels(s); !maps.Equal(got, levels) {
		t.Errorf("breaker levels after the rejected reload: %v, want %v", got, levels)
	}
	if got := s.Config().Profiles["face"].Breaker.ConsecutiveFailures; got != 2 {
		t.Errorf("configuration in force has consecutive_failures %d, want 2", got)
	}
	// Calls go through the chains in force: the open breaker refuses them.
	if err := s.Unary()(context.Background(), compare, nil, nil, nil, inv.Invoke); !errors.Is(err, breaker.ErrOpen) || inv.Count(compare) != 2 {
		t.Errorf("call after the rejected reload: %v (invoker reached %d times), want the open breaker's refusal", err, inv.Count(compare))
	}
	// What the rejected reload built (FaceMatch's new limiter) is closed; what is in force is not.
	if got := f.closes(); !slices.Equal(got, []int{0, 0, 1}) {
		t.Errorf("closes of the remote limiters after the rejected reload: %v, want [0 0 1] (the reload's own closed)", got)
	}
	// The shared bucket in force is still the registry's.
	limiters.Reconfigure()
	if got, err := limiters.Local(ratelimit.Config{Rate: 10, Shared: "kyc"}); err != nil || got != bucket {
		t.Errorf("shared bucket after the rejected reload: %v (same %v), want the one in force", err, got == bucket)
	}

	// The cache is as it was: reloading the configuration in force builds nothing.
	if err := s.Reload(stagedConfig(2, 100, "127.0.0.1:2", 10)); err != nil {
		t.Fatal(err)
	}
	if got := f.closes(); len(got) != 3 {
		t.Errorf("reloading the configuration in force made %d limiters in all, want 3 (none new)", len(got))
	}
	if b, _ := reg.Lookup(svcFaceMatch); b != open || b.State() != breaker.Open {
		t.Error("reloading the configuration in force replaced or reset the breaker")
	}

	// The same reload with OCR's limiter up is applied whole.
	if err := s.Reload(stagedConfig(3, 200, "127.0.0.1:2", 20)); err != nil {
		t.Fatal(err)
	}
	if b, _ := reg.Lookup(svcFaceMatch); b == open || b.State() != breaker.Closed || b.Config().ConsecutiveFailures != 3 {
		t.Fatal("a reload that changed the breaker's settings kept the old breaker")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.closes(); !slices.Equal(got, []int{1, 1, 1, 1}) {
		t.Fatalf("closes after Close: %v, want every limiter closed once", got)
	}
}

// A chain built on its method's first call is all or nothing too: a step that fails to build
// (the toy quota without its log) leaves no object of the chain's earlier steps in the suite or
// its registries, and releases them.
func TestFailedFirstBuildLeavesNothing(t *testing.T) {
	const svc = "test.v1.LazyFail" // no descriptor, no methods named: built on the first call
	clk := clocktest.New(time.Unix(1700000000, 0))
	reg := &breaker.Registry{}
	f := &remoteFactory{}
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker:          &breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: time.Hour},
			AdaptiveThrottle: &throttle.Config{K: 2},
			RateLimit:        &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}},
			Sections:         map[section.Key]any{"quota": &quotaConfig{Limit: 1}},
		}},
		Services: map[string]config.Service{svc: {Profile: "p"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg), interceptors.WithRemoteLimiter(f.make))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inv := &testkit.CountingInvoker{}
	err = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke)
	if status.Code(err) != grpccodes.FailedPrecondition {
		t.Fatalf("first call: %v, want FailedPrecondition (the quota step has no log)", err)
	}
	if _, ok := reg.Lookup(svc); ok {
		t.Error("the failed build left its breaker in the registry")
	}
	if n := len(breakerLevels(s)); n != 0 {
		t.Errorf("the failed build left %d breakers in the suite", n)
	}
	if n := len(s.Throttles()); n != 0 { //nolint:staticcheck // the cache's throttles
		t.Errorf("the failed build left %d throttles in the suite", n)
	}
	if got := f.closes(); !slices.Equal(got, []int{1}) {
		t.Errorf("closes of the failed build's remote limiters: %v, want [1]", got)
	}
}

// The chains of one reload that share an object get the one the reload staged: two methods of a
// service whose breaker a reload replaces share the new breaker, which is the registry's.
func TestReloadSharesStagedObjects(t *testing.T) {
	const svc = "test.v1.Staged"
	cfg := func(failures int) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: failures, RecoveryTimeout: time.Hour}}},
			Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"A": {}, "B": {}}}},
		}
	}
	reg := &breaker.Registry{}
	s, err := interceptors.New(cfg(3), interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old, _ := reg.Lookup(svc)
	if err := s.Reload(cfg(2)); err != nil {
		t.Fatal(err)
	}
	b, ok := reg.Lookup(svc)
	if !ok || b == old || b.Config().ConsecutiveFailures != 2 {
		t.Fatal("the reload did not put its new breaker in the registry")
	}
	inv := &testkit.CountingInvoker{Err: unavailable()}
	for range 2 {
		_ = s.Unary()(context.Background(), "/"+svc+"/A", nil, nil, nil, inv.Invoke)
	}
	if err := s.Unary()(context.Background(), "/"+svc+"/B", nil, nil, nil, inv.Invoke); !errors.Is(err, breaker.ErrOpen) || b.State() != breaker.Open {
		t.Fatalf("B after A's failures opened the breaker: %v (registry's breaker %v), want B refused by the one open breaker", err, b.State())
	}
}
