package promobs_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
)

// A suite both observed and scraped (as the example orchestrator wires it): a reload that
// turns a breaker off leaves no state series for it, although its last event said "open".
func TestBreakerSeriesGoneAfterReloadRemovesIt(t *testing.T) {
	m, reg := newMetrics(t)
	parse := func(doc string) *config.Config {
		t.Helper()
		c, _, err := config.Parse("test.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	withBreaker := parse("profiles:\n  p:\n    breaker:\n      consecutive_failures: 2\nservices:\n  kyc.v1.OCRService:\n    profile: p\n")
	without := parse("profiles:\n  p:\n    deadline:\n      default: 1s\nservices:\n  kyc.v1.OCRService:\n    profile: p\n")
	suite, err := interceptors.New(withBreaker, interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	defer suite.Close()
	m.Scrape(suite)

	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return errDown }
	for range 2 {
		_ = suite.Unary()(context.Background(), extract, nil, nil, nil, fail)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "open"))

	if err := suite.Reload(without); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
}

// The state series' method label is bounded as every other method label is (MaxMethods), for
// the names of events and of sources alike.
func TestBreakerStateMethodLabelBounded(t *testing.T) {
	m, reg := newMetrics(t)
	const names = promobs.MaxMethods + 500
	for i := range names {
		m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: "s.v1.S",
			Method: "/s.v1.S/M" + strconv.Itoa(i), From: "closed", To: "open"})
	}
	if n, limit := testutil.CollectAndCount(reg, promobs.NameBreakerState), len(promobs.BreakerStates())*(promobs.MaxMethods+1); n > limit {
		t.Fatalf("%d method names gave %d %s series, want at most %d", names, n, promobs.NameBreakerState, limit)
	}
}
