package promobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
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

// With events alone (no Scrape), a breaker that opened and that a reload replaces under the
// same name (its settings changed; the reload builds the new one for the chains of its listed
// methods) leaves no "open" standing for the new, closed breaker: the reload reports the old
// one retired, as it does a breaker it removes, and the series is the replacement's, closed
// from its BreakerPublished. Before, the old breaker's last event stayed the series for good,
// and BulwarkBreakerOpen kept firing for a breaker serving calls.
func TestReplacedBreakerEventsOnlyLeavesNoStaleOpen(t *testing.T) {
	const svc = "test.v1.Replaced"
	cfg := func(failures int) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: failures}}},
			Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
		}
	}
	m, reg := newMetrics(t)
	s, err := interceptors.New(cfg(1), interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	if got := scrape(t, reg, promobs.NameBreakerState); len(got) == 0 {
		t.Fatal("the open breaker has no state series")
	}
	if err := s.Reload(cfg(5)); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
}

// With events alone, a reload that replaced a breaker under its name sends the old one's
// Retired after the reload took effect, and a call through the replacement may trip it first:
// the replacement's "open" reaches the sink before the Retired, with a later Time (the
// Retired's is when the reload took effect). The open breaker keeps its series; the retired
// breaker's state, from before the reload, is dropped. Before, the Retired dropped the
// replacement's "open" too, and BulwarkBreakerOpen missed an open breaker until its next
// change.
func TestRetiredKeepsReplacementsLaterState(t *testing.T) {
	const svc = "test.v1.Reordered"
	m, reg := newMetrics(t)
	reload := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// The old breaker opened before the reload.
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: reload.Add(-time.Minute), Service: svc, Policy: observe.PolicyBreaker, From: "closed", To: "open"})
	// The replacement opens after the reload, its event sent before the old one's Retired.
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: reload.Add(time.Millisecond), Service: svc, Policy: observe.PolicyBreaker, From: "closed", To: "open"})
	m.Observe(observe.Event{Kind: observe.Retired, Time: reload, Service: svc, Policy: observe.PolicyBreaker})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))

	// A state whose last event is not after the Retired's Time (the old breaker's own, or one
	// at the same time) is dropped.
	const other = "test.v1.Same"
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: reload, Service: other, Policy: observe.PolicyBreaker, From: "closed", To: "open"})
	m.Observe(observe.Event{Kind: observe.Retired, Time: reload, Service: other, Policy: observe.PolicyBreaker})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}

// A suite closed and replaced by a new one, both given to Scrape, no longer shows its levels:
// the breaker state series is the new suite's breaker's (closed), not the closed suite's
// breaker's last state (open), which no call reaches any more. Before, the closed suite, the
// first source added, won every series the two shared, and BulwarkBreakerOpen kept firing for
// a service whose calls went through a closed breaker.
func TestClosedSuiteLeavesItsReplacementsLevels(t *testing.T) {
	const svc = "test.v1.Replaced"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	m, reg := newMetrics(t)
	old, err := interceptors.New(cfg, interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape(old)
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = old.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))

	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := interceptors.New(cfg, interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m.Scrape(s)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
}

// With events alone (no Scrape), a suite built to replace another before that one is closed
// (build the new, swap, close the old) keeps the state its breaker reached before the Close:
// the closed suite's breaker is retired at its own last change, not at the Close, so the
// replacement's "open", an event later than that, stands. Before, the Close's Retired dropped
// it, and BulwarkBreakerOpen missed an open breaker serving calls.
func TestCloseAfterReplacementKeepsItsState(t *testing.T) {
	const svc = "test.v1.BlueGreen"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m, reg := newMetrics(t)
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	old, err := interceptors.New(cfg, interceptors.WithObserver(m), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	_ = old.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail) // the old breaker opens
	clk.Advance(time.Second)
	s, err := interceptors.New(cfg, interceptors.WithObserver(m), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail) // the new one opens
	clk.Advance(time.Second)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}

// A Retired of a breaker whose service and method no event or reading named (a suite whose
// sink was given to Metrics after its breakers had reported, or one observed elsewhere) takes
// no label value: as many such Retired events as the bounds allow leave every service and method
// label free for the names of calls. Before, each one used a slot, and the next MaxServices
// services to call were counted as "other".
func TestRetiredOfUnseenNameTakesNoLabel(t *testing.T) {
	m, reg := newMetrics(t)
	for i := range max(promobs.MaxServices, promobs.MaxMethods) {
		svc := fmt.Sprintf("gone.v1.S%d", i)
		m.Observe(observe.Event{Kind: observe.Retired, Service: svc, Method: "/" + svc + "/Do", Policy: observe.PolicyBreaker})
	}
	const svc, method = "test.v1.Later", "/test.v1.Later/Do"
	m.Observe(call(svc, method, grpccodes.OK, codes.Success, 1, time.Millisecond))
	assertSamples(t, scrape(t, reg, promobs.NameCalls), map[string]float64{
		`bulwark_calls_total{class="success",code="OK",method="` + method + `",service="` + svc + `"}`: 1,
	})
}

// TestRetiredBeforePublished: a breaker's Retired that reaches the sink before anything of its
// instance did (a suite sends BreakerPublished after its lock is let go, so a Reload or a Close
// on another goroutine may retire the breaker first) drops that instance's later events: its
// BreakerPublished and the changes of calls that were in flight through it, whatever labels
// they map to. The Retired of a name not seen is mapped without taking a label slot, so when
// the service bound fills in between, its late publication maps to "other", not to the label
// the Retired had. Before, promobs kept nothing for a Retired of a name with no state, and the
// retired breaker's late publication brought its series back for good.
func TestRetiredBeforePublished(t *testing.T) {
	const svc, full = "test.v1.RetiredFirst", "test.v1.RetiredThenFull"
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	published := func(svc string, instance uint32) observe.Event {
		return observe.Event{Kind: observe.BreakerPublished, Instance: instance, Time: at, Service: svc, Policy: observe.PolicyBreaker, To: "closed"}
	}
	m, reg := newMetrics(t)

	m.Observe(breakerRetired(svc, 7, time.Time{})) // a Close's, of a breaker that made no change
	m.Observe(published(svc, 7))
	m.Observe(breakerEvent(svc, 7, at.Add(time.Second), "closed", "open"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})

	// Another instance of the name is kept.
	m.Observe(published(svc, 8))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))

	// The Retired maps full to its own label (the bound not reached); the service bound then
	// fills, and the late publication and change map to "other".
	m.Observe(breakerRetired(full, 9, time.Time{}))
	for i := range promobs.MaxServices {
		m.Observe(observe.Event{Kind: observe.RetryScheduled, Service: fmt.Sprintf("fill.v1.S%d", i), Attempt: 1})
	}
	m.Observe(published(full, 9))
	m.Observe(breakerEvent(full, 9, at.Add(time.Second), "closed", "open"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
}

// TestRetiredInstancesBounded: the retired instances kept for a name with no state are the last
// MaxRetiredInstances; the oldest is let go first, and its later events count again.
func TestRetiredInstancesBounded(t *testing.T) {
	const svc = "test.v1.RetiredMany"
	m, reg := newMetrics(t)
	for i := range uint32(promobs.MaxRetiredInstances + 1) {
		m.Observe(breakerRetired(svc, i+1, time.Time{}))
	}
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.Observe(breakerEvent(svc, 2, at, "closed", "open")) // still kept: dropped
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
	m.Observe(breakerEvent(svc, 1, at, "closed", "half_open")) // the oldest, let go: counts
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "half_open"))
}
