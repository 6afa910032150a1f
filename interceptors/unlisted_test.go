package interceptors_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Tests of the bound on the chains of unlisted names (WithUnlistedLimit): names that neither
// the configuration nor a registered descriptor lists, and services outside both.

// perMethod is a configuration whose profile has a part per method (a method-scoped breaker
// that opens after two failures in a row, for an hour): svc (not registered) is named with
// no methods, and the profile is also the default, for services outside the configuration.
func perMethod(svc string) *config.Config {
	p := func() config.Profile {
		return config.Profile{Breaker: &breaker.Config{Scope: breaker.ScopeMethod, ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}}
	}
	return &config.Config{
		Profiles: map[string]config.Profile{"p": p(), config.DefaultProfile: p()},
		Services: map[string]config.Service{svc: {Profile: "p"}},
	}
}

// breakerLevelCount counts the breakers Levels reads (the suite's object cache).
func breakerLevelCount(s *interceptors.Suite) int {
	n := 0
	for l := range s.Levels {
		if l.Kind == observe.LevelBreakerState {
			n++
		}
	}
	return n
}

// registryBreakers counts the breakers of the suite's registry.
func registryBreakers(s *interceptors.Suite) int {
	n := 0
	s.Breakers().Each(func(string, *breaker.Breaker) { n++ })
	return n
}

// counts returns the suite's chains, cached objects, breakers read by Levels and breakers in
// its registry.
func counts(s *interceptors.Suite) [4]int {
	return [4]int{interceptors.ChainCount(s), interceptors.ObjectCount(s), breakerLevelCount(s), registryBreakers(s)}
}

// atMost fails t when any count of got exceeds base's by more than extra.
func atMost(t *testing.T, what string, base, got [4]int, extra int) {
	t.Helper()
	names := [4]string{"chains", "cached objects", "breakers read by Levels", "breakers in the registry"}
	for i := range got {
		if got[i]-base[i] > extra {
			t.Errorf("%s: %d %s more, want at most %d", what, got[i]-base[i], names[i], extra)
		}
	}
}

func newClocked(t *testing.T, cfg *config.Config, opts ...interceptors.Option) *interceptors.Suite {
	t.Helper()
	clk := clocktest.New(time.Unix(1700000000, 0)) // no breaker recovers while the test runs
	s, err := interceptors.New(cfg, append([]interceptors.Option{interceptors.WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// 100 distinct unlisted names of a service whose breaker is per method cost at most the bound
// (8) of chains and breakers, and one overflow chain and breaker for the rest; names past the
// bound stay protected by the overflow breaker, while the names within it keep their own.
func TestUnlistedMethodsBounded(t *testing.T) {
	const bound, names = 8, 100
	s := newClocked(t, perMethod(svcUnlisted), interceptors.WithUnlistedLimit(bound))
	base := counts(s)
	ok := &testkit.CountingInvoker{}
	unary := s.Unary()
	name := func(i int) string { return "/" + svcUnlisted + "/M" + strconv.Itoa(i) }
	for i := range names {
		if err := unary(context.Background(), name(i), nil, nil, nil, ok.Invoke); err != nil {
			t.Fatalf("%s: %v", name(i), err)
		}
	}
	// Each name has one chain and one breaker (its only cached object).
	atMost(t, strconv.Itoa(names)+" unlisted names", base, counts(s), bound+1)
	if got := interceptors.ChainMethod(s, name(names-1)); got != "/"+svcUnlisted+"/*" {
		t.Errorf("a name past the bound is served by the chain of %q, want the service's overflow chain %q", got, "/"+svcUnlisted+"/*")
	}

	// Two failures of names past the bound open the overflow breaker: a name never called
	// before is rejected without reaching the server.
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for i := range 2 {
		_ = unary(context.Background(), name(names+i), nil, nil, nil, fail.Invoke)
	}
	fresh := name(names + 10)
	if err := unary(context.Background(), fresh, nil, nil, nil, ok.Invoke); !errors.Is(err, breaker.ErrOpen) || ok.Count(fresh) != 0 {
		t.Fatalf("a new name past the bound after the overflow breaker opened: %v, reached the server %d times; want breaker.ErrOpen", err, ok.Count(fresh))
	}
	if _, err := s.Stream()(context.Background(), &grpc.StreamDesc{}, nil, name(names+11), nil); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a stream of a new name past the bound: %v, want breaker.ErrOpen", err)
	}
	// A name within the bound has a breaker of its own, still closed.
	if err := unary(context.Background(), name(0), nil, nil, nil, ok.Invoke); err != nil {
		t.Fatalf("a name within the bound after the overflow breaker opened: %v, want its own (closed) breaker", err)
	}
	atMost(t, "after the overflow breaker opened", base, counts(s), bound+1)
}

// Services outside the configuration and the registered descriptors count too: with a
// default profile per method, 100 services of 2 names each cost at most the bound of chains
// and breakers, and one overflow chain for the rest, whose breaker protects them all.
func TestUnlistedServicesBounded(t *testing.T) {
	const bound, services = 8, 100
	for _, tc := range []struct {
		name string
		cfg  *config.Config
	}{
		{"breaker per method", perMethod(svcUnlisted)},
		{"breaker per service", func() *config.Config {
			cfg := perMethod(svcUnlisted)
			cfg.Profiles[config.DefaultProfile].Breaker.Scope = breaker.ScopeService
			return cfg
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newClocked(t, tc.cfg, interceptors.WithUnlistedLimit(bound))
			base := counts(s)
			ok := &testkit.CountingInvoker{}
			unary := s.Unary()
			name := func(i, j int) string { return "/x" + strconv.Itoa(i) + ".v1.Svc/M" + strconv.Itoa(j) }
			for i := range services {
				for j := range 2 {
					if err := unary(context.Background(), name(i, j), nil, nil, nil, ok.Invoke); err != nil {
						t.Fatalf("%s: %v", name(i, j), err)
					}
				}
			}
			atMost(t, strconv.Itoa(services)+" unlisted services", base, counts(s), bound+1)
			if got := interceptors.ChainMethod(s, name(services, 0)); got != "/*/*" {
				t.Errorf("a service past the bound is served by the chain of %q, want the suite's overflow chain %q", got, "/*/*")
			}
			fail := &testkit.CountingInvoker{Err: unavailable()}
			for i := range 2 {
				_ = unary(context.Background(), name(services+i, 0), nil, nil, nil, fail.Invoke)
			}
			fresh := name(services+10, 0)
			if err := unary(context.Background(), fresh, nil, nil, nil, ok.Invoke); !errors.Is(err, breaker.ErrOpen) || ok.Count(fresh) != 0 {
				t.Fatalf("a new service past the bound after the overflow breaker opened: %v, reached the server %d times; want breaker.ErrOpen", err, ok.Count(fresh))
			}
			// The configured service, within its bound, is apart.
			if err := unary(context.Background(), "/"+svcUnlisted+"/Do", nil, nil, nil, ok.Invoke); err != nil {
				t.Fatalf("the configured service: %v", err)
			}
			atMost(t, "after the overflow breaker opened", base, counts(s), bound+2)

			// After a reload, a service within the bound gets its own chain again, although
			// the overflow chain was built first under the new configuration.
			if err := s.Reload(tc.cfg); err != nil {
				t.Fatal(err)
			}
			if got := interceptors.ChainMethod(s, name(services+20, 0)); got != "/*/*" {
				t.Fatalf("after the reload, a service past the bound is served by the chain of %q, want %q", got, "/*/*")
			}
			if got := interceptors.ChainMethod(s, name(0, 0)); got == "/*/*" || !strings.HasPrefix(got, "/x0.v1.Svc/") {
				t.Errorf("after the reload, a service within the bound is served by the chain of %q, want its own", got)
			}
			atMost(t, "after the reload", base, counts(s), bound+2)
		})
	}
}

// Many goroutines calling distinct names at once respect the bound, and every call gets a
// chain.
func TestUnlistedBoundConcurrent(t *testing.T) {
	const bound, workers, perWorker = 8, 16, 20
	s := newClocked(t, perMethod(svcUnlisted), interceptors.WithUnlistedLimit(bound))
	base := counts(s)
	ok := &testkit.CountingInvoker{}
	unary := s.Unary()
	start := make(chan struct{})
	errs := make(chan error, workers*perWorker*2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range perWorker {
				m := "/" + svcUnlisted + "/W" + strconv.Itoa(w) + "M" + strconv.Itoa(i)
				errs <- unary(context.Background(), m, nil, nil, nil, ok.Invoke)
				other := "/y" + strconv.Itoa(w) + "_" + strconv.Itoa(i) + ".v1.Svc/M"
				errs <- unary(context.Background(), other, nil, nil, nil, ok.Invoke)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// At most bound names and services of their own, one overflow chain for the service and
	// one for the services outside the configuration.
	atMost(t, "concurrent distinct names", base, counts(s), bound+2)
}

// The names given chains of their own are the suite's for its life: a reload, which starts the
// chains afresh, lets no more names in, so that their objects (which a reload keeps, with their
// state) stay bounded however often the configuration is reloaded. A name within the bound
// keeps its breaker's state across the reload.
func TestUnlistedBoundAcrossReloads(t *testing.T) {
	const bound = 8
	s := newClocked(t, perMethod(svcUnlisted), interceptors.WithUnlistedLimit(bound))
	base := counts(s)
	unary := s.Unary()
	ok := &testkit.CountingInvoker{}
	fail := &testkit.CountingInvoker{Err: unavailable()}
	first := "/" + svcUnlisted + "/First"
	for range 2 {
		_ = unary(context.Background(), first, nil, nil, nil, fail.Invoke)
	}
	for r := range 5 {
		cfg := perMethod(svcUnlisted)
		cfg.Budget = time.Duration(r+5) * time.Second // another configuration; the breakers' settings are the same
		if err := s.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			m := "/" + svcUnlisted + "/R" + strconv.Itoa(r) + "M" + strconv.Itoa(i)
			if err := unary(context.Background(), m, nil, nil, nil, ok.Invoke); err != nil {
				t.Fatalf("%s: %v", m, err)
			}
		}
	}
	atMost(t, "5 reloads of 20 new names each", base, counts(s), bound+1)
	if err := unary(context.Background(), first, nil, nil, nil, ok.Invoke); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a name within the bound after reloads: %v, want its breaker still open", err)
	}
}

// WithUnlistedLimit(0) gives no unlisted name a chain of its own; a negative bound is refused,
// naming the option, the value and the rule.
func TestUnlistedLimitOption(t *testing.T) {
	s := newClocked(t, perMethod(svcUnlisted), interceptors.WithUnlistedLimit(0))
	base := counts(s)
	ok := &testkit.CountingInvoker{}
	for i := range 10 {
		if err := s.Unary()(context.Background(), "/"+svcUnlisted+"/M"+strconv.Itoa(i), nil, nil, nil, ok.Invoke); err != nil {
			t.Fatal(err)
		}
	}
	atMost(t, "bound 0", base, counts(s), 1)

	_, err := interceptors.New(nil, interceptors.WithUnlistedLimit(-1))
	if err == nil {
		t.Fatal("WithUnlistedLimit(-1) was accepted")
	}
	for _, want := range []string{"WithUnlistedLimit", "-1", "is negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("WithUnlistedLimit(-1): %q, want it to name %q", err, want)
		}
	}
}

// A fallback is a part per method (its reply is typed by the method): past the bound, names
// of a service with a reply for the service (WithFallback) still get it through the overflow
// chain; with reply_json, a name not in a registered descriptor fails to build, within the
// bound or past it, as before the bound.
func TestUnlistedFallbackPastTheBound(t *testing.T) {
	const bound = 2
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(1), Fallback: &fallback.Config{}}},
		Services: map[string]config.Service{svcUnlisted: {Profile: "p"}},
	}
	reply := fallback.Func(func(_ context.Context, method string, _ any, _ error) proto.Message {
		return &kycv1.CompareResponse{Similarity: float32(len(method))}
	})
	s := newClocked(t, cfg, interceptors.WithUnlistedLimit(bound), interceptors.WithFallback(svcUnlisted, reply))
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for i := range 5 {
		m := "/" + svcUnlisted + "/M" + strconv.Itoa(i)
		var out kycv1.CompareResponse
		if err := s.Unary()(context.Background(), m, nil, &out, nil, fail.Invoke); err != nil || out.Similarity != float32(len(m)) {
			t.Fatalf("%s: %v, score %v; want the fallback's reply for the method", m, err, out.Similarity)
		}
	}

	cfg.Profiles["p"].Fallback.ReplyJSON = `{}`
	s = newClocked(t, cfg, interceptors.WithUnlistedLimit(bound))
	for i := range 5 {
		m := "/" + svcUnlisted + "/M" + strconv.Itoa(i)
		if err := s.Unary()(context.Background(), m, nil, nil, nil, fail.Invoke); status.Code(err) != grpccodes.FailedPrecondition {
			t.Fatalf("%s: %v, want FailedPrecondition (reply_json for a method no descriptor declares)", m, err)
		}
	}
}

// WithFallback("/<service>/*") gives a reply for every method of the service, as a fallback
// built for that target does (package fallback): names within the bound and past it get it.
func TestFallbackServiceWildcardTarget(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(1), Fallback: &fallback.Config{}}},
		Services: map[string]config.Service{svcUnlisted: {Profile: "p"}},
	}
	reply := fallback.Func(func(_ context.Context, method string, _ any, _ error) proto.Message {
		return &kycv1.CompareResponse{Similarity: float32(len(method))}
	})
	s := newClocked(t, cfg, interceptors.WithUnlistedLimit(2), interceptors.WithFallback("/"+svcUnlisted+"/*", reply))
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for i := range 5 {
		m := "/" + svcUnlisted + "/M" + strconv.Itoa(i)
		var out kycv1.CompareResponse
		if err := s.Unary()(context.Background(), m, nil, &out, nil, fail.Invoke); err != nil || out.Similarity != float32(len(m)) {
			t.Fatalf("%s: %v, score %v; want the reply given for /%s/*", m, err, out.Similarity, svcUnlisted)
		}
	}
}
