package promobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"google.golang.org/grpc"
)

// A scrape that runs as a reload's Retired event of a breaker it removed arrives (from inside
// the sink, before the Metrics see the event) still finds the breaker read by the suite, so the
// Metrics keep it as retired: the later "open" of a call that was in flight through it at the
// reload brings no series back. Before, the suite no longer read the breaker at that scrape,
// which let go of it, and the in-flight call's "open" stood as its series for good.
func TestScrapeAtRetiredKeepsRemovedBreakerHidden(t *testing.T) {
	const svc = "test.v1.RetiredWindow"
	m, reg := newMetrics(t)
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	probing := false
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.Retired && probing {
			scrape(t, reg, promobs.NameBreakerState)
		}
		m.Observe(e)
	})
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 2}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}, interceptors.WithObserver(sink), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m.Scrape(s)

	entered, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				close(entered)
				<-release
				return errDown
			})
	}()
	<-entered
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failingInvoker) // one failure of two
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))

	probing = true
	if err := s.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	probing = false
	clk.Advance(time.Second)
	close(release) // the in-flight call fails: the removed breaker opens
	<-done
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
}
