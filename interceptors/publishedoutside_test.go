package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// A suite and the registry interceptors share a breaker registry and an observer: every
// breaker is published once, by whichever made it: the suite's (test.v1.Pub, which the
// registry interceptors then take with the same settings) by the suite at its build, the
// interceptors' (test.v1.Else) at its first call. Breaker.Publish sends once per breaker, so
// that the suite's publication and the registry's never both reach the observer.
func TestSuiteAndRegistryInterceptorsPublishEachBreakerOnce(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	rec := &testkit.Recorder{}
	s, err := interceptors.New(publishedCfg(t, "2", ""), interceptors.WithObserver(rec),
		interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	unary, err := breaker.UnaryClientInterceptor(breaker.Config{ConsecutiveFailures: 2}, breaker.WithRegistry(reg),
		breaker.WithClock(clk), breaker.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	for _, m := range []string{"/test.v1.Pub/Do", "/test.v1.Else/Do", "/test.v1.Else/Do"} {
		if err := unary(context.Background(), m, nil, nil, nil, inv.Invoke); err != nil {
			t.Fatal(err)
		}
		if err := s.Unary()(context.Background(), "/test.v1.Pub/Do", nil, nil, nil, inv.Invoke); err != nil {
			t.Fatal(err)
		}
	}
	byInstance := map[uint32]int{}
	services := map[string]int{}
	for _, e := range rec.Events(observe.BreakerPublished) {
		byInstance[e.Instance]++
		services[e.Service]++
	}
	for i, n := range byInstance {
		if n != 1 {
			t.Errorf("instance %d published %d times, want once", i, n)
		}
	}
	for _, svc := range []string{"test.v1.Pub", "test.v1.Else"} {
		if services[svc] != 1 {
			t.Errorf("%s's breaker published %d times, want once", svc, services[svc])
		}
	}
}
