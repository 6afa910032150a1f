package promobs_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	grpccodes "google.golang.org/grpc/codes"
)

// A suite resolves a service it has no entry for to the default profile, under the service's
// own name, so with method names from outside the API (a generic proxy, names from user input)
// the service label comes from the caller too. MaxMethods alone leaves one series per service:
// past MaxServices names the service label is OtherService, in every family, so the series stay
// bounded however many names calls bring, and none is lost.
func TestServiceLabelBoundedPastMaxServices(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	const names = 2000
	for i := range names {
		svc := "evil" + strconv.Itoa(i) + ".v1.S"
		method := "/" + svc + "/M"
		for _, e := range []observe.Event{
			{Kind: observe.CallFinished, Service: svc, Method: method, Code: grpccodes.Unavailable, Class: codes.Transient},
			{Kind: observe.AttemptFinished, Service: svc, Method: method, Code: grpccodes.Unavailable, Class: codes.Transient},
			{Kind: observe.RetryScheduled, Service: svc, Method: method, Attempt: 1, Delay: time.Millisecond},
			{Kind: observe.RetriesExhausted, Service: svc, Method: method, Reason: observe.ReasonMaxAttempts},
			{Kind: observe.Rejected, Service: svc, Method: method, Policy: observe.PolicyBreaker, Reason: "CIRCUIT_OPEN"},
			{Kind: observe.BreakerStateChanged, Service: svc, Method: method, From: "closed", To: "open"},
			{Kind: observe.DeadlineApplied, Service: svc, Method: method, Reason: observe.ReasonDefault},
			{Kind: observe.FallbackServed, Service: svc, Method: method},
		} {
			m.Observe(e)
		}
	}
	// Per family: each of the first MaxServices services, then OtherService (with the method
	// label, where there is one, bounded by MaxMethods as before).
	for _, name := range []string{
		promobs.NameCalls, promobs.NameAttempts, promobs.NameRetries, promobs.NameRetriesExhausted,
		promobs.NameRejections, promobs.NameBreakerTransitions, promobs.NameDeadlinesApplied, promobs.NameFallbacks,
	} {
		if n := testutil.CollectAndCount(reg, name); n > promobs.MaxServices+1 {
			t.Errorf("%s: %d service names gave %d series, want at most MaxServices+1 (%d)", name, names, n, promobs.MaxServices+1)
		}
	}
	if n := testutil.CollectAndCount(reg, promobs.NameBreakerState); n > (promobs.MaxServices+1)*len(promobs.BreakerStates()) {
		t.Errorf("%s: %d series, want at most (MaxServices+1) × states", promobs.NameBreakerState, n)
	}
	got := scrape(t, reg, promobs.NameRetries)
	if v := got[`bulwark_retries_total{attempt="1",service="`+promobs.OtherService+`"}`]; v != names-promobs.MaxServices {
		t.Errorf("service=%q counts %v retries, want %d", promobs.OtherService, v, names-promobs.MaxServices)
	}
}
