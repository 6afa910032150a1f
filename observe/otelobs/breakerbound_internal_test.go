package otelobs

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
)

// The tracer keeps the states of breakerstates.MaxBreakers breakers at most, and none of a
// name longer than observe.MaxKeptName, as zapobs does: a breaker past them reports the
// default ("open") on a rejection's span; those kept still follow their changes, and a
// Retired makes room. Before, it kept every breaker (and every name) it was told of.
func TestBreakerStatesBounded(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	changed := func(service, method string) observe.Event {
		return observe.Event{Kind: observe.BreakerStateChanged, Time: at, Service: service, Method: method,
			Policy: observe.PolicyBreaker, From: "open", To: "half_open"}
	}
	svc := func(i int) string { return fmt.Sprintf("svc%d.v1.Service", i) }
	tr := New()
	for i := range 4096 {
		tr.Observe(changed(svc(i), ""))
	}
	past := svc(4096)
	tr.Observe(changed(past, ""))
	if got := tr.breakerState(past, "/"+past+"/Do"); got != "open" {
		t.Errorf("breaker past the bound of 4096: state %q, want it not kept (open, the default)", got)
	}
	if got := tr.breakerState(svc(0), "/"+svc(0)+"/Do"); got != "half_open" {
		t.Errorf("breaker kept at the bound: state %q, want half_open", got)
	}
	tr.Observe(observe.Event{Kind: observe.Retired, Time: at, Service: svc(1), Policy: observe.PolicyBreaker})
	tr.Observe(changed(past, ""))
	if got := tr.breakerState(past, "/"+past+"/Do"); got != "half_open" {
		t.Errorf("breaker changed after a Retired made room: state %q, want half_open", got)
	}

	tr = New()
	long := strings.Repeat("s", observe.MaxKeptName+1)
	tr.Observe(changed(long, ""))
	if got := tr.breakerState(long, "/x/Do"); got != "open" {
		t.Errorf("service name longer than MaxKeptName: state %q, want it not kept (open, the default)", got)
	}
}

// Reading a breaker's state for a rejection's span builds no key: it allocates nothing,
// whichever breaker it finds (the method's, the overflow chain's, the service's, none).
// Before, each lookup built a key string, one allocation or more per breaker tried.
func TestBreakerStateAllocs(t *testing.T) {
	const svc, other = "kyc.v1.OCRService", "kyc.v1.FaceMatchService"
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tr := New()
	for _, e := range []observe.Event{
		{Kind: observe.BreakerStateChanged, Time: at, Service: svc, Method: "/" + svc + "/Extract", To: "half_open"},
		{Kind: observe.BreakerStateChanged, Time: at, Service: svc, Method: "/" + svc + "/*", To: "forced_open"},
		{Kind: observe.BreakerStateChanged, Time: at, Service: other, To: "open"},
	} {
		tr.Observe(e)
	}
	extract, unlisted, compare := "/"+svc+"/Extract", "/"+svc+"/Unlisted", "/"+other+"/Compare"
	if got := testing.AllocsPerRun(1000, func() {
		tr.breakerState(svc, extract)
		tr.breakerState(svc, unlisted)
		tr.breakerState(other, compare)
		tr.breakerState("none.v1.Service", compare)
	}); got != 0 {
		t.Errorf("allocs = %v; want 0", got)
	}
}
