package promobs_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	grpccodes "google.golang.org/grpc/codes"
)

// A source's readings are bounded by MaxServices as the events are: once MaxServices services
// were seen, a bulkhead of a new service is read under OtherService.
func TestScrapedLevelsServiceBoundedPastMaxServices(t *testing.T) {
	m, reg := newMetrics(t)
	for i := range promobs.MaxServices {
		svc := "seen" + strconv.Itoa(i) + ".v1.S"
		m.Observe(call(svc, "/"+svc+"/M", grpccodes.OK, codes.Success, 1, time.Millisecond))
	}
	m.Scrape(newFakeSource(bulkheadLevels("late.v1.S", 3, 8)...))
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="other"}`: 3,
		`bulwark_bulkhead_capacity{method="",service="other"}`:  8,
	})
}

// A breaker a source read, that was then retired and that the source reads again (its
// replacement under the name, or a breaker of a shared registry in use again), is the source's
// as any other: once the source stops reading it, its events count again.
func TestBreakerReadAgainAfterRetiredIsReleasedWhenNoLongerRead(t *testing.T) {
	const svc = "test.v1.Again"
	m, reg := newMetrics(t)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	src := newFakeSource(stateLevel(svc, "", "closed"))
	m.Scrape(src)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
	m.Observe(observe.Event{Kind: observe.Retired, Time: at, Service: svc, Policy: observe.PolicyBreaker})
	// Read again after the Retired: no longer a retired breaker that the source keeps.
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
	src.set()
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: at.Add(time.Minute), Service: svc, Policy: observe.PolicyBreaker, From: "closed", To: "open"})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}
