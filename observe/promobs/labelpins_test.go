package promobs_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	grpccodes "google.golang.org/grpc/codes"
)

// A name of exactly observe.MaxKeptName (1024) bytes is kept as its own label value: only a
// name longer than that is "other".
func TestNameOfMaxKeptLengthIsItsOwnLabel(t *testing.T) {
	m, reg := newMetrics(t)
	const svc = "s.v1.S"
	prefix := "/" + svc + "/"
	atBound := prefix + strings.Repeat("m", observe.MaxKeptName-len(prefix))
	over := prefix + strings.Repeat("n", observe.MaxKeptName+1-len(prefix))
	if len(atBound) != observe.MaxKeptName || len(over) != observe.MaxKeptName+1 {
		t.Fatalf("names of %d and %d bytes", len(atBound), len(over))
	}
	m.Observe(call(svc, atBound, grpccodes.OK, codes.Success, 1, time.Millisecond))
	m.Observe(call(svc, over, grpccodes.OK, codes.Success, 1, time.Millisecond))
	assertSamples(t, scrape(t, reg, promobs.NameCalls), map[string]float64{
		fmt.Sprintf(`bulwark_calls_total{class="success",code="OK",method=%q,service=%q}`, atBound, svc):             1,
		fmt.Sprintf(`bulwark_calls_total{class="success",code="OK",method=%q,service=%q}`, promobs.OtherMethod, svc): 1,
	})
}

// A Retired event of a bulkhead or an adaptive throttle (a reload turned it off) says nothing
// of the breaker of the same service and method: the breaker's last event state stays.
func TestRetiredOfOtherPolicyKeepsBreakerState(t *testing.T) {
	const svc = "test.v1.Kept"
	m, reg := newMetrics(t)
	changed := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: changed, Service: svc, Policy: observe.PolicyBreaker, From: "closed", To: "open"})
	for _, p := range []string{observe.PolicyBulkhead, observe.PolicyAdaptiveThrottle} {
		m.Observe(observe.Event{Kind: observe.Retired, Time: changed.Add(time.Minute), Service: svc, Policy: p})
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}

// A source's breaker reading with no state shows the breaker in none of the states: every
// state series 0, and no series of an empty state.
func TestEmptyBreakerStateReadingHasNoSeriesOfItsOwn(t *testing.T) {
	const svc = "test.v1.Empty"
	m, reg := newMetrics(t)
	m.Scrape(newFakeSource(stateLevel(svc, "", "")))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, ""))
}
