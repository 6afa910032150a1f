package promobs_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A suite's breaker that opens (its event the only word of it so far: no scrape has read it)
// and that a reload then removes leaves no state series: the suite reports the breakers a
// reload retires, and their last event no longer stands in for a scrape. Before, the "open"
// of its one event stayed exposed for good, and BulwarkBreakerOpen kept firing.
func TestRetiredBreakerUnscrapedLeavesNoSeries(t *testing.T) {
	const svc = "test.v1.Retired"
	m, reg := newMetrics(t)
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}, interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m.Scrape(s)

	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	if err := s.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
}
