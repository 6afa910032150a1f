package interceptors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// A service's hedging policy learns its methods' delays; a reload that changes nothing keeps
// it, with what it learnt, also when one method of the service has retry settings of its own:
// that method's hedges draw on its own retry budget, so it has a hedging policy of its own,
// kept too (one object named by the service for both would be replaced by each chain built).
func TestReloadKeepsHedgeBesideAMethodsOwnRetry(t *testing.T) {
	const svc = "test.v1.Hedged"
	cfg := func() *config.Config {
		r := &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, Jitter: retry.JitterNone,
			Throttle: retry.RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second}}
		h := &hedge.Config{MaxAttempts: 2, Delay: 100 * time.Millisecond, Percentile: 0.5, MinSamples: 1, Window: 10, Idempotent: true}
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {Retry: r, Hedge: h}},
			Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{
				"A": {Overrides: config.Overrides{Retry: config.Set(retry.Config{MaxAttempts: 2}, "max_attempts")}},
				"B": {},
			}}},
		}
	}
	clk := clocktest.New(time.Unix(1700000000, 0))
	s, err := interceptors.New(cfg(), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A's calls take 20ms each, B's 10ms (replies are messages: the calls can be hedged). The
	// hedging policies learn those delays.
	for _, m := range []struct {
		name string
		took time.Duration
	}{{"A", 20 * time.Millisecond}, {"B", 10 * time.Millisecond}} {
		slow := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			clk.Advance(m.took)
			return nil
		}
		for range 4 {
			if err := s.Unary()(context.Background(), "/"+svc+"/"+m.name, nil, new(emptypb.Empty), nil, slow); err != nil {
				t.Fatal(err)
			}
		}
	}
	// learnt is the delay the hedging policy named name uses for method; 0 when there is no
	// such policy.
	learnt := func(name, method string) time.Duration {
		if h, ok := interceptors.Object(s, "hedge", name).(*hedge.Policy); ok {
			return h.Delay(method)
		}
		return 0
	}
	check := func(when string) {
		t.Helper()
		if d := learnt(svc, "/"+svc+"/B"); d != 10*time.Millisecond {
			t.Errorf("%s: the service's hedging delay for B is %v, want the 10ms learnt", when, d)
		}
		if d := learnt("/"+svc+"/A", "/"+svc+"/A"); d != 20*time.Millisecond {
			t.Errorf("%s: A's hedging delay is %v, want the 20ms learnt", when, d)
		}
	}
	check("before the reload")
	if err := s.Reload(cfg()); err != nil {
		t.Fatal(err)
	}
	check("after a reload that changed nothing")
}

// A fleet-wide limit without a remote limiter factory is refused whole wherever it is, also
// where its chains are built on a first call only: in the default profile (services outside
// the configuration) and in a configured service without a registered descriptor or methods
// named. A reload that brings one in changes nothing: the calls it would fail go on.
func TestRemoteLimitWithoutFactoryRefusedForFirstCallChains(t *testing.T) {
	redis := func() *ratelimit.Config {
		return &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}}
	}
	for name, cfg := range map[string]*config.Config{
		"default profile": {Profiles: map[string]config.Profile{config.DefaultProfile: {RateLimit: redis()}}},
		"service without methods": {
			Profiles: map[string]config.Profile{"p": {RateLimit: redis()}},
			Services: map[string]config.Service{"a.v1.Lazy": {Profile: "p"}},
		},
		"service whose one method turns it off": {
			Profiles: map[string]config.Profile{"p": {RateLimit: redis()}},
			Services: map[string]config.Service{"a.v1.Lazy": {Profile: "p", Methods: map[string]config.Method{
				"Do": {Overrides: config.Overrides{RateLimit: config.Off[ratelimit.Config]()}},
			}}},
		},
	} {
		s, err := interceptors.New(cfg)
		if err == nil {
			inv := &testkit.CountingInvoker{}
			err := s.Unary()(context.Background(), "/a.v1.Lazy/Other", nil, nil, nil, inv.Invoke)
			_ = s.Close()
			t.Errorf("%s: New accepted rate_limit.redis without a remote limiter factory (a first call: %v)", name, err)
			continue
		}
		for _, w := range []string{"rate_limit.redis", "WithRemoteLimiter"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %s", name, err, w)
			}
		}
	}

	s, err := interceptors.New(&config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {RateLimit: &ratelimit.Config{Rate: 100}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reload(&config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {RateLimit: redis()}}}); err == nil {
		t.Error("Reload accepted a default profile with rate_limit.redis without a remote limiter factory")
	}
	inv := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), "/a.v1.Lazy/Do", nil, nil, nil, inv.Invoke); err != nil {
		t.Errorf("first call of a service outside the configuration after the refused reload: %v, want the configuration in force's chain", err)
	}
}

// A Config built in code may hold in its Sections maps what a file never decodes to: a key
// that is no registered section kept there, a value of another type than the section's *C, a
// nil one. New and Reload refuse it, naming the entry, the value and the rule, without a
// panic, and a refused reload leaves the configuration in force.
func TestSectionValuesOfTheWrongTypeRefused(t *testing.T) {
	profile := func(k section.Key, v any) *config.Config {
		return &config.Config{Profiles: map[string]config.Profile{"p": {Sections: map[section.Key]any{k: v}}}}
	}
	override := func(v any) *config.Config {
		return &config.Config{Services: map[string]config.Service{"a.v1.A": {Methods: map[string]config.Method{"Do": {Overrides: config.Overrides{
			Sections: map[section.Key]*config.Override[any]{"quota": {Value: v, Fields: []string{"limit"}}},
		}}}}}}
	}
	for _, tt := range []struct {
		name string
		cfg  *config.Config
		want string
	}{
		{"not a pointer", profile("quota", quotaConfig{Limit: 1}),
			"profiles.p.quota: a value of type interceptors_test.quotaConfig is not a *interceptors_test.quotaConfig"},
		{"nil pointer", profile("quota", (*quotaConfig)(nil)),
			"profiles.p.quota: nil is not a *interceptors_test.quotaConfig (leave the key out to turn the section off)"},
		{"another section's", profile("quota", &retry.Config{MaxAttempts: 2}),
			"profiles.p.quota: a value of type *retry.Config is not a *interceptors_test.quotaConfig"},
		{"misspelt key", profile("qouta", &quotaConfig{Limit: 1}), `profiles.p.qouta: "qouta" is not a registered section`},
		{"built-in key", profile("retry", &retry.Config{MaxAttempts: 2}), `profiles.p.retry: "retry" has a field of its own, where its value goes`},
		{"override value", override(1),
			`services."a.v1.A".methods.Do.quota: a value of type int is not a *interceptors_test.quotaConfig`},
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: New panicked: %v", tt.name, r)
				}
			}()
			s, err := interceptors.New(tt.cfg)
			if err == nil {
				_ = s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: New: %v, want an error saying %q", tt.name, err, tt.want)
			}
		}()
	}

	s, err := interceptors.New(&config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {Retry: &retry.Config{MaxAttempts: 2, InitialBackoff: time.Millisecond, Idempotent: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bad := profile("quota", quotaConfig{Limit: 1})
	bad.Profiles[config.DefaultProfile] = config.Profile{Sections: map[section.Key]any{"quota": quotaConfig{Limit: 0}}}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("Reload panicked: %v", r)
			}
		}()
		if err := s.Reload(bad); err == nil {
			t.Error("Reload accepted a quota section that is not a *quotaConfig")
		}
	}()
	fail := &testkit.CountingInvoker{Err: unavailable()}
	_ = s.Unary()(context.Background(), "/a.v1.A/Do", nil, nil, nil, fail.Invoke)
	if n := fail.Count("/a.v1.A/Do"); n != 2 {
		t.Errorf("a call after the refused reload made %d attempts, want the 2 of the configuration in force", n)
	}
}
