package promobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The registry interceptors' breaker of a service opens, its events the only word of it (no
// source a scrape reads holds it); a suite sharing the registry, with another observer and
// other settings for the name, then puts its own breaker in its place. The replaced breaker
// sends its Retired, and its "open" no longer stands. Before, the registry replaced it without
// a Retired, and the series said open for good of a breaker that serves no call.
func TestBreakerASuitePutInPlaceOfGetsLeavesNoSeries(t *testing.T) {
	const svc = "test.v1.RetiredPut"
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m, reg := newMetrics(t)
	breakers := breaker.NewRegistry()
	unary, err := breaker.UnaryClientInterceptor(breaker.Config{ConsecutiveFailures: 1}, breaker.WithRegistry(breakers),
		breaker.WithClock(clk), breaker.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = unary(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))

	clk.Advance(time.Second)
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 5}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}, interceptors.WithClock(clk), interceptors.WithBreakerRegistry(breakers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
}
