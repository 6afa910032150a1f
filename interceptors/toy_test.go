package interceptors_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The toy policy: a section registered by this file alone, with no edit to package config or
// to the suite, that a suite must build, order by rank and keep across reloads like a
// built-in. A quota lets the first limit calls of its name through and refuses the rest.

type quotaConfig struct {
	Limit int `yaml:"limit"`
}

// quotaLog records, in order, what the quota steps and the invoker saw.
type quotaLog struct {
	mu      sync.Mutex
	entries []string
	// inFlight reads the bulkhead's slots in use, to tell where the quota step runs.
	inFlight func() int
}

func (l *quotaLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, fmt.Sprintf(format, args...))
}

func (l *quotaLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.entries
	l.entries = nil
	return out
}

var quotaBuilds atomic.Int32 // numbers the quota objects built

// quota is the toy policy's object. It is an observe.LevelSource, so that the suite's Levels
// yields its level.
type quota struct {
	id, name, service string
	limit             int
	entered, used     atomic.Int32
	log               *quotaLog
}

func (q *quota) Levels(yield func(observe.Level) bool) {
	yield(observe.Level{Kind: observe.LevelCapacity, Policy: "quota", Service: q.service, Method: q.name,
		Value: float64(q.limit - int(q.used.Load())), State: q.id})
}

func (q *quota) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	q.entered.Add(1)
	q.log.add("quota %s: bulkhead in flight %d", q.id, q.log.inFlight())
	if int(q.used.Add(1)) > q.limit {
		return status.Error(grpccodes.ResourceExhausted, "quota spent")
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (q *quota) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(ctx, desc, cc, method, opts...)
}

func init() {
	section.Register(section.Spec[quotaConfig]{
		Key:  "quota",
		Rank: section.RankRateLimit + 50,
		Validate: func(c quotaConfig) error {
			var v fielderr.Checker
			v.Check(c.Limit >= 0, "limit", c.Limit, "is negative")
			return v.Err()
		},
		Build: func(env *section.Env, c quotaConfig) (section.Built, error) {
			log, ok := section.Value[*quotaLog](env)
			if !ok {
				return section.Built{}, fmt.Errorf("no quota log: pass interceptors.WithValue(log)")
			}
			q := &quota{id: fmt.Sprint(quotaBuilds.Add(1)), name: env.Name, service: env.Service, limit: c.Limit, log: log}
			return section.Built{Unary: q.unary, Stream: q.stream, Object: q}, nil
		},
	})
}

const (
	svcToy     = "test.v1.Toy"
	toyPlain   = "/" + svcToy + "/Plain"
	toySpecial = "/" + svcToy + "/Special"
)

// quotaYAML has the quota in a profile, and a method override of it.
func quotaYAML(t *testing.T, plain, special int) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("toy.yaml", fmt.Appendf(nil, `
profiles:
  toyish:
    rate_limit: {rate: 0.001, burst: 3}
    bulkhead: {max_concurrent: 1}
    quota: {limit: %d}
services:
  %s:
    profile: toyish
    methods:
      Special:
        quota: {limit: %d}
`, plain, svcToy, special))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// quotaLevels returns the quota objects' levels by name.
func quotaLevels(s *interceptors.Suite) map[string]observe.Level {
	out := map[string]observe.Level{}
	for l := range s.Levels {
		if l.Policy == "quota" {
			out[l.Method] = l
		}
	}
	return out
}

func TestToySectionRunsByRankAndSurvivesReload(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	log := &quotaLog{}
	s, err := interceptors.New(quotaYAML(t, 2, 5), interceptors.WithClock(clk), interceptors.WithValue(log))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log.inFlight = func() int {
		return s.Bulkheads()[svcToy].InFlight() //nolint:staticcheck // the bulkhead is the step after the quota
	}
	invoker := func(_ context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		log.add("invoker: bulkhead in flight %d", log.inFlight())
		return nil
	}
	call := func(method string) error {
		return s.Unary()(context.Background(), method, nil, nil, nil, invoker)
	}

	// A call passes the quota, which runs before the bulkhead takes its slot.
	if err := call(toyPlain); err != nil {
		t.Fatal(err)
	}

	// The quota of Plain is the service's (Plain resolves it as the service does), built on
	// Plain's first call; Special's is its own, built with the suite.
	lv := quotaLevels(s)
	plain, special := lv[svcToy], lv[toySpecial]
	if len(lv) != 2 || plain.Value != 1 || special.Value != 5 {
		t.Fatalf("quota levels %+v, want the service's (1 left) and Special's (5 left)", lv)
	}
	want := []string{"quota " + plain.State + ": bulkhead in flight 0", "invoker: bulkhead in flight 1"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("first call: %q, want %q", got, want)
	}
	if err := call(toyPlain); err != nil {
		t.Fatal(err)
	}
	log.take()

	// The quota refuses the third call: the bulkhead after it is never entered.
	if err := call(toyPlain); status.Code(err) != grpccodes.ResourceExhausted || !strings.Contains(err.Error(), "quota spent") {
		t.Fatalf("third call: %v, want the quota's refusal", err)
	}
	if got := log.take(); len(got) != 1 || !strings.HasPrefix(got[0], "quota ") {
		t.Fatalf("third call: %q, want the quota step only", got)
	}

	// The rate limiter (burst 3, no refill on the fake clock) refuses the fourth: the quota
	// after it is never entered.
	if err := call(toyPlain); err == nil || strings.Contains(err.Error(), "quota spent") {
		t.Fatalf("fourth call: %v, want the rate limiter's refusal", err)
	}
	if got := log.take(); len(got) != 0 {
		t.Fatalf("fourth call reached %q, want nothing past the rate limiter", got)
	}

	// A reload that leaves the quota sections alone keeps both objects and their counts.
	if err := s.Reload(quotaYAML(t, 2, 5)); err != nil {
		t.Fatal(err)
	}
	lv = quotaLevels(s)
	if lv[svcToy].State != plain.State || lv[toySpecial].State != special.State || lv[svcToy].Value != -1 {
		t.Fatalf("after an unchanged reload: %+v, want objects %s (-1 left) and %s kept", lv, plain.State, special.State)
	}

	// Changing Special's override replaces Special's quota only: Levels yields the new one.
	if err := s.Reload(quotaYAML(t, 2, 6)); err != nil {
		t.Fatal(err)
	}
	lv = quotaLevels(s)
	if lv[svcToy].State != plain.State || lv[toySpecial].State == special.State || lv[toySpecial].Value != 6 || len(lv) != 2 {
		t.Fatalf("after changing Special's quota: %+v, want %s kept and a new Special quota of 6", lv, plain.State)
	}

	// Changing the profile's quota replaces the service's, when Plain's chain is built anew
	// on its first call under the new configuration (the rate limiter, unchanged, still
	// refuses it).
	if err := s.Reload(quotaYAML(t, 4, 6)); err != nil {
		t.Fatal(err)
	}
	if err := call(toyPlain); err == nil {
		t.Fatal("the kept rate limiter let a call through")
	}
	lv = quotaLevels(s)
	if lv[svcToy].State == plain.State || lv[svcToy].Value != 4 {
		t.Fatalf("after changing the profile's quota: %+v, want a new service quota of 4", lv)
	}

	// When Special's override matches the profile again, Special shares the service's quota
	// and its own is forgotten.
	if err := s.Reload(quotaYAML(t, 4, 4)); err != nil {
		t.Fatal(err)
	}
	if lv = quotaLevels(s); len(lv) != 1 || lv[svcToy].Value != 4 {
		t.Fatalf("with Special's quota as the service's: %+v, want the service's only", lv)
	}

	// Turning the quota off for Special forgets Special's object; off everywhere, both.
	cfg := quotaYAML(t, 4, 6)
	svc := cfg.Services[svcToy]
	svc.Methods["Special"] = config.Method{Overrides: config.Overrides{Sections: map[section.Key]*config.Override[any]{"quota": {Off: true}}}}
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if lv = quotaLevels(s); len(lv) != 1 || lv[svcToy].Value != 4 {
		t.Fatalf("with Special's quota off: %+v, want the service's only", lv)
	}
	delete(cfg.Profiles["toyish"].Sections, "quota")
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if lv = quotaLevels(s); len(lv) != 0 {
		t.Fatalf("with the quota off: %+v, want none", lv)
	}
}
