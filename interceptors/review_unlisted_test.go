package interceptors_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// scoped is a configuration whose default profile has a breaker of scope; with svc not empty,
// svc is named with the profile "p", whose breaker has scope svcScope.
func scoped(scope breaker.Scope, svc string, svcScope breaker.Scope) *config.Config {
	cfg := &config.Config{Profiles: map[string]config.Profile{
		config.DefaultProfile: {Breaker: &breaker.Config{Scope: scope, ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}},
	}}
	if svc != "" {
		cfg.Profiles["p"] = config.Profile{Breaker: &breaker.Config{Scope: svcScope, ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}}
		cfg.Services = map[string]config.Service{svc: {Profile: "p"}}
	}
	return cfg
}

// settled calls fullMethod until its chain is found without a build: it fails t when a
// call after the first still misses the chain cache (takes the suite's lock) or gets
// another chain than the one before.
func settled(t *testing.T, s *interceptors.Suite, fullMethod, want string) {
	t.Helper()
	var misses atomic.Int32
	interceptors.SetBeforeBuild(s, func() { misses.Add(1) })
	defer interceptors.SetBeforeBuild(s, nil)
	ok := &testkit.CountingInvoker{}
	_ = s.Unary()(context.Background(), fullMethod, nil, nil, nil, ok.Invoke)
	if got := interceptors.ChainMethod(s, fullMethod); got != want {
		t.Errorf("%s is served by the chain of %q, want %q", fullMethod, got, want)
	}
	first := interceptors.ChainOf(s, fullMethod)
	misses.Store(0)
	for range 3 {
		_ = s.Unary()(context.Background(), fullMethod, nil, nil, nil, ok.Invoke)
		if interceptors.ChainOf(s, fullMethod) != first {
			t.Fatalf("%s: each call gets a chain built anew", fullMethod)
		}
	}
	if n := misses.Load(); n != 0 {
		t.Errorf("%s: %d of 6 later lookups missed the chain cache and took the suite's lock, want 0", fullMethod, n)
	}
}

// A service admitted while it was outside the configuration (its methods shared its chain),
// then configured with a method-scoped breaker: its names past the bound go through its
// overflow chain, built once, not once per call.
func TestOverflowAfterServiceAdmittedThenConfigured(t *testing.T) {
	const svc = "test.v1.Later"
	s := newClocked(t, scoped(breaker.ScopeService, "", ""), interceptors.WithUnlistedLimit(1))
	_ = s.Unary()(context.Background(), "/"+svc+"/A", nil, nil, nil, (&testkit.CountingInvoker{}).Invoke) // admits svc
	if err := s.Reload(scoped(breaker.ScopeService, svc, breaker.ScopeMethod)); err != nil {
		t.Fatal(err)
	}
	settled(t, s, "/"+svc+"/B", "/"+svc+"/*")
}

// A service outside the configuration admitted while its methods shared its chain; after a
// reload gives the default profile a method-scoped breaker, its names past the bound go
// through the suite's overflow chain without taking the suite's lock on every call.
func TestOverflowAfterServiceAdmittedThenPerMethod(t *testing.T) {
	const svc = "test.v1.Later"
	s := newClocked(t, scoped(breaker.ScopeService, "", ""), interceptors.WithUnlistedLimit(1))
	_ = s.Unary()(context.Background(), "/"+svc+"/A", nil, nil, nil, (&testkit.CountingInvoker{}).Invoke) // admits svc
	if err := s.Reload(scoped(breaker.ScopeMethod, "", "")); err != nil {
		t.Fatal(err)
	}
	settled(t, s, "/"+svc+"/B", "/*/*")
}

// A name of a service outside the configuration admitted while the default profile had a
// method-scoped breaker; after a reload makes its methods share one chain, the service (not
// admitted) goes through the suite's overflow chain, and so does the name, without taking the
// suite's lock on every call.
func TestOverflowAfterMethodAdmittedThenShared(t *testing.T) {
	const svc = "test.v1.Later"
	s := newClocked(t, scoped(breaker.ScopeMethod, "", ""), interceptors.WithUnlistedLimit(1))
	_ = s.Unary()(context.Background(), "/"+svc+"/A", nil, nil, nil, (&testkit.CountingInvoker{}).Invoke) // admits the name
	if err := s.Reload(scoped(breaker.ScopeService, "", "")); err != nil {
		t.Fatal(err)
	}
	settled(t, s, "/"+svc+"/A", "/*/*")
}

// A listed name (a registered descriptor declares it) counts towards no bound and has a chain
// of its own, also when first called after its service's overflow chain was built.
func TestListedMethodAfterOverflowBuilt(t *testing.T) {
	s := newClocked(t, scoped(breaker.ScopeMethod, "", ""), interceptors.WithUnlistedLimit(1))
	ok := &testkit.CountingInvoker{}
	for _, m := range []string{"/" + svcOCR + "/Unknown1", "/" + svcOCR + "/Unknown2"} {
		_ = s.Unary()(context.Background(), m, nil, nil, nil, ok.Invoke)
	}
	if got := interceptors.ChainMethod(s, "/"+svcOCR+"/Unknown2"); got != "/"+svcOCR+"/*" {
		t.Fatalf("a name past the bound is served by the chain of %q, want the overflow chain", got)
	}
	settled(t, s, testkit.MethodExtract, testkit.MethodExtract)
}

// A name WithFallback gives a reply for is listed: first called after its service's overflow
// chain was built, it still gets its chain and its reply.
func TestFallbackTargetAfterOverflowBuilt(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(1), Fallback: &fallback.Config{}}},
		Services: map[string]config.Service{svcUnlisted: {Profile: "p"}},
	}
	special := "/" + svcUnlisted + "/Special"
	reply := fallback.Func(func(context.Context, string, any, error) proto.Message {
		return &kycv1.CompareResponse{Similarity: 0.5}
	})
	s := newClocked(t, cfg, interceptors.WithUnlistedLimit(1), interceptors.WithFallback(special, reply))
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for _, m := range []string{"/" + svcUnlisted + "/A", "/" + svcUnlisted + "/B"} {
		_ = s.Unary()(context.Background(), m, nil, &kycv1.CompareResponse{}, nil, fail.Invoke)
	}
	var out kycv1.CompareResponse
	if err := s.Unary()(context.Background(), special, nil, &out, nil, fail.Invoke); err != nil || out.Similarity != 0.5 {
		t.Fatalf("%s after the overflow chain was built: %v, score %v; want its fallback's reply", special, err, out.Similarity)
	}
	if got := interceptors.ChainMethod(s, special); got != special {
		t.Errorf("%s is served by the chain of %q, want its own", special, got)
	}
}

// A call may name the service "*" ("/*/Foo"), which the suite's overflow chain is built for
// ("/*/*"). That service is a service as any other: with WithFallback("*"), its names past
// the bound go through its own overflow chain, with its reply, while the names of services
// outside the configuration past the bound go through the suite's, which takes no reply of
// WithFallback's (its fallback without reply_json then fails to build, as it does without
// WithFallback("*")), whichever of the two chains is built first.
func TestServiceNamedStarApartFromSuiteOverflow(t *testing.T) {
	const star, outside = "/*/Foo", "/test.v1.Outside/Do"
	for _, order := range [][]string{{outside, star}, {star, outside}} {
		t.Run(order[0], func(t *testing.T) {
			cfg := &config.Config{Profiles: map[string]config.Profile{
				config.DefaultProfile: {Retry: quickRetry(1), Fallback: &fallback.Config{}},
			}}
			reply := fallback.Func(func(context.Context, string, any, error) proto.Message {
				return &kycv1.CompareResponse{Similarity: 0.25}
			})
			s := newClocked(t, cfg, interceptors.WithUnlistedLimit(0), interceptors.WithFallback("*", reply))
			fail := &testkit.CountingInvoker{Err: unavailable()}
			for _, m := range order {
				var out kycv1.CompareResponse
				err := s.Unary()(context.Background(), m, nil, &out, nil, fail.Invoke)
				switch m {
				case star:
					if err != nil || out.Similarity != 0.25 {
						t.Errorf("%s: %v, score %v; want the reply WithFallback gives the service *", m, err, out.Similarity)
					}
				case outside:
					if status.Code(err) != grpccodes.FailedPrecondition {
						t.Errorf("%s: %v, score %v; want FailedPrecondition (a fallback without a reply), as without the reply of the service *", m, err, out.Similarity)
					}
				}
			}
			if interceptors.ChainOf(s, star) == interceptors.ChainOf(s, outside) {
				t.Errorf("%s and %s share a chain: the service * is served by the suite's overflow chain", star, outside)
			}
		})
	}
}

// A reload that gives a service's breaker scope: method leaves no chain using the breaker
// named by the service: it is forgotten, so that Levels no longer reports it (open, here, as
// it was when the service shared it), beside the breakers of the service's methods.
func TestReloadToMethodScopeForgetsServiceBreaker(t *testing.T) {
	const svc = "test.v1.Scoped"
	s := newClocked(t, scoped(breaker.ScopeService, svc, breaker.ScopeService))
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for range 2 {
		_ = s.Unary()(context.Background(), "/"+svc+"/A", nil, nil, nil, fail.Invoke)
	}
	if interceptors.Object(s, "breaker", svc) == nil {
		t.Fatalf("no breaker named %s before the reload", svc)
	}
	if err := s.Reload(scoped(breaker.ScopeService, svc, breaker.ScopeMethod)); err != nil {
		t.Fatal(err)
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/A", nil, nil, nil, (&testkit.CountingInvoker{}).Invoke)
	if interceptors.Object(s, "breaker", svc) != nil {
		t.Errorf("after the reload to scope: method, the breaker named %s is still kept", svc)
	}
	for l := range s.Levels {
		if l.Kind == observe.LevelBreakerState && l.Service == svc && l.Method == "" {
			t.Errorf("after the reload to scope: method, Levels reports the service's breaker (%s), which no chain uses", l.State)
		}
	}
	// Back to scope: service, the service's breaker starts afresh.
	if err := s.Reload(scoped(breaker.ScopeService, svc, breaker.ScopeService)); err != nil {
		t.Fatal(err)
	}
	ok := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), "/"+svc+"/B", nil, nil, nil, ok.Invoke); err != nil {
		t.Errorf("back to scope: service, a call: %v, want the service's breaker closed (afresh)", err)
	}
}

// The services past the bound share the suite's overflow chain and so its retry budget: one
// budget, the service "*"'s, as its hedges draw on, not one per service a call names (which
// names from input would add without end). A retry budget spent by one such service throttles
// the retries of the next.
func TestOverflowServicesShareOneRetryBudget(t *testing.T) {
	rc := quickRetry(3)
	rc.Idempotent = true
	rc.Throttle = retry.RetryBudgetConfig{MaxTokens: 3} // retries while above 1.5 tokens; a failure takes 1
	cfg := &config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {Retry: rc}}}
	s, err := interceptors.New(cfg, interceptors.WithUnlistedLimit(0), interceptors.WithBreakerRegistry(new(breaker.Registry)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	fail := &testkit.CountingInvoker{Err: unavailable()}
	a, b := "/test.v1.FirstOutside/Do", "/test.v1.SecondOutside/Do"
	_ = s.Unary()(context.Background(), a, nil, nil, nil, fail.Invoke)
	if n := fail.Count(a); n != 2 {
		t.Fatalf("%s made %d attempts, want 2 (the budget allows one retry)", a, n)
	}
	_ = s.Unary()(context.Background(), b, nil, nil, nil, fail.Invoke)
	if n := fail.Count(b); n != 1 {
		t.Errorf("%s made %d attempts after %s spent the overflow chain's retry budget, want 1 (no retry)", b, n, a)
	}
}
