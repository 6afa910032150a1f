package interceptors_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Regression tests for issue 17 (items 6 and 7).

const svcUnlisted = "test.v1.Unlisted" // no registered descriptor, not named in the configuration

// Item 6: a first-call build that started under the previous configuration and finishes after
// Reload returned must not put that configuration's breaker and bulkhead back.
func TestReloadRaceFirstCallBuildUnderOldConfig(t *testing.T) {
	reg := &breaker.Registry{}
	s, err := interceptors.New(suitecfg.DefaultProfile(5, 4), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	interceptors.SetBeforeBuild(s, func() { once.Do(func() { close(held); <-release }) })

	inv := &testkit.CountingInvoker{Err: unavailable()}
	unary := s.Unary()
	call := func(method string) error {
		return unary(context.Background(), "/"+svcUnlisted+"/"+method, nil, nil, nil, inv.Invoke)
	}
	done := make(chan error, 1)
	go func() { done <- call("First") }() // loads the state of suitecfg.DefaultProfile(5, 4), then waits
	<-held
	if err := s.Reload(suitecfg.DefaultProfile(2, 7)); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("the racing first call: %v, want the invoker's Unavailable", err)
	}

	b, ok := reg.Lookup(svcUnlisted)
	if !ok || b.Config().ConsecutiveFailures != 2 {
		t.Fatalf("registry breaker after the racing build: found=%v consecutive_failures=%d, want the current 2",
			ok, b.Config().ConsecutiveFailures)
	}
	if bh := s.Bulkheads()[svcUnlisted]; bh == nil || bh.Capacity() != 7 {
		t.Fatalf("bulkhead after the racing build: %v, want the current capacity 7", bh)
	}
	// One breaker for the service: a failure more opens it for every method, and a method first
	// called afterwards is rejected without reaching the server.
	_ = call("Second")
	if b.State() != breaker.Open {
		t.Fatalf("breaker %v after 2 failures, want open", b.State())
	}
	if err := call("Third"); !errors.Is(err, breaker.ErrOpen) || inv.Count("/"+svcUnlisted+"/Third") != 0 {
		t.Fatalf("new method after the breaker opened: err %v, reached the server %d times", err, inv.Count("/"+svcUnlisted+"/Third"))
	}
}

// Item 7: a reload that only adds a classifier override makes the breaker behave as a fresh
// suite's with that configuration.
func TestReloadClassifierChangeReplacesBreaker(t *testing.T) {
	const svc = "test.v1.Classified"
	cfg := func(unavailableIsBusiness bool) *config.Config {
		p := config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 3, RecoveryTimeout: time.Hour}}
		if unavailableIsBusiness {
			p.Classifier = codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}}
		}
		return &config.Config{Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svc: {Profile: "p"}}}
	}
	run := func(s *interceptors.Suite, n int) {
		inv := &testkit.CountingInvoker{Err: unavailable()}
		for range n {
			_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke)
		}
	}

	reg := &breaker.Registry{}
	s, err := interceptors.New(cfg(false), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run(s, 2) // two failures under the default classifier
	if err := s.Reload(cfg(true)); err != nil {
		t.Fatal(err)
	}
	run(s, 3) // UNAVAILABLE is a business answer now

	freshReg := &breaker.Registry{}
	fresh, err := interceptors.New(cfg(true), interceptors.WithBreakerRegistry(freshReg))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	run(fresh, 3)

	got, _ := reg.Lookup(svc)
	want, _ := freshReg.Lookup(svc)
	if got.State() != want.State() || got.State() != breaker.Closed {
		t.Fatalf("breaker after a classifier-only reload is %v, a fresh suite's is %v (want closed)", got.State(), want.State())
	}

	// A reload that changes nothing keeps the breaker (and its state).
	before := got
	if err := s.Reload(cfg(true)); err != nil {
		t.Fatal(err)
	}
	run(s, 1)
	if after, _ := reg.Lookup(svc); after != before {
		t.Fatal("an identical reload replaced the breaker")
	}
}

// Item 9: 20 000 distinct method names outside the configuration and the registered
// descriptors cost one chain, one breaker and one bulkhead. The bound on promobs' series
// under the same load is internal/integration's TestUnboundedMethodNamesBoundedSeries (the
// core module does not require Prometheus).
func TestUnboundedMethodNamesShareOneChain(t *testing.T) {
	breakers := &breaker.Registry{}
	cfg := suitecfg.DefaultProfile(5, 4)
	p := cfg.Profiles[config.DefaultProfile]
	p.Retry = quickRetry(2)
	cfg.Profiles[config.DefaultProfile] = p
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(breakers))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := interceptors.ChainCount(s)
	inv := &testkit.CountingInvoker{}
	unary := s.Unary()
	const names = 20000
	for i := range names {
		m := "/" + svcUnlisted + "/M" + strconv.Itoa(i)
		if err := unary(context.Background(), m, nil, nil, nil, inv.Invoke); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	if got := interceptors.ChainCount(s) - base; got != 1 {
		t.Errorf("%d names built %d chains, want 1", names, got)
	}
	nBreakers := 0
	breakers.Each(func(string, *breaker.Breaker) { nBreakers++ })
	if nBreakers != 1 || len(s.Bulkheads()) != 1 {
		t.Errorf("%d names made %d breakers and %d bulkheads, want 1 and 1", names, nBreakers, len(s.Bulkheads()))
	}
}

// The suite emits CallFinished for every logical call (interceptors/doc.go), a call whose chain
// could not be built included: it failed, and the metrics and logs must see it.
func TestCallFinishedWhenTheChainFailsToBuild(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(2), Fallback: &fallback.Config{ReplyJSON: `{}`}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := testkit.Start(t, &testkit.Server{})
	cc := srv.Dial(t, s.DialOptions()...)
	const method = "/" + svcFaceMatch + "/NotInTheDescriptor"
	err = cc.Invoke(context.Background(), method, &kycv1.CompareRequest{}, &kycv1.CompareResponse{})
	if status.Code(err) != grpccodes.FailedPrecondition {
		t.Fatalf("Invoke: %v, want the chain's FailedPrecondition", err)
	}
	if n := rec.Count(observe.CallFinished); n != 1 {
		t.Fatalf("%d CallFinished events for the failed call, want 1 (events: %+v)", n, rec.Events())
	}
}

// observe documents ReasonBudget for DeadlineApplied ("the total time budget"): a suite whose
// only bound is its call budget (no deadline section) must say so, not "cap" (a configured
// max) or "default".
func TestBudgetDeadlineSaysBudget(t *testing.T) {
	cfg := &config.Config{
		Budget:   5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(2)}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	e := newEnv(t, cfg, &testkit.Server{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, c := range []context.Context{context.Background(), ctx} {
		if _, err := e.face.Compare(c, &kycv1.CompareRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.rec.Events(observe.DeadlineApplied)
	if len(evs) != 2 {
		t.Fatalf("%d DeadlineApplied events, want 2", len(evs))
	}
	for i, ev := range evs {
		if ev.Reason != observe.ReasonBudget || ev.Delay != 5*time.Second {
			t.Errorf("call %d: DeadlineApplied reason %q delay %v, want %q 5s (the call budget set it)", i+1, ev.Reason, ev.Delay, observe.ReasonBudget)
		}
	}
}

// A nil registry given to WithBreakerRegistry or WithLimiterRegistry is the default, the
// suite's own: New must not panic on it, and the suite works.
func TestNilRegistriesAreTheDefault(t *testing.T) {
	cfg := suitecfg.DefaultProfile(2, 4)
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(nil), interceptors.WithLimiterRegistry(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Breakers() == nil {
		t.Fatal("Breakers() = nil with WithBreakerRegistry(nil), want the suite's own registry")
	}
	ok := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), "/"+svcUnlisted+"/M", nil, nil, nil, ok.Invoke); err != nil {
		t.Fatal(err)
	}
	if got := ok.Count("/" + svcUnlisted + "/M"); got != 1 {
		t.Fatalf("invoker calls = %d, want 1", got)
	}
}
