package otelobs

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
)

// A suite's reload that replaced a breaker under its name sends the old one's Retired after
// the reload took effect, and a call through the replacement may change its state first: the
// replacement's event reaches the tracer before the Retired, with a later Time (the Retired's
// is when the reload took effect). The tracer keeps the replacement's state, to report on the
// spans of the calls it rejects; it drops one not later than the Retired. Before, the Retired
// dropped the replacement's state too, and a rejection reported "open" (the state of a breaker
// that rejects without a recorded change) for a half-open breaker.
func TestRetiredKeepsReplacementsLaterState(t *testing.T) {
	const svc = "test.v1.Reordered"
	reload := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tr := New()
	tr.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: reload.Add(-time.Minute), Service: svc, Policy: observe.PolicyBreaker, From: "closed", To: "forced_open"})
	tr.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: reload.Add(time.Millisecond), Service: svc, Policy: observe.PolicyBreaker, From: "open", To: "half_open"})
	tr.Observe(observe.Event{Kind: observe.Retired, Time: reload, Service: svc, Policy: observe.PolicyBreaker})
	if got := tr.breakerState(svc, "/"+svc+"/Do"); got != "half_open" {
		t.Errorf("after a Retired older than the replacement's change to half_open: state %q, want half_open", got)
	}

	// The retired breaker's own state, not later than its Retired, is dropped.
	const other = "test.v1.Same"
	tr.Observe(observe.Event{Kind: observe.BreakerStateChanged, Time: reload, Service: other, Policy: observe.PolicyBreaker, From: "open", To: "half_open"})
	tr.Observe(observe.Event{Kind: observe.Retired, Time: reload, Service: other, Policy: observe.PolicyBreaker})
	if got := tr.breakerState(other, "/"+other+"/Do"); got != "open" {
		t.Errorf("after a Retired at the time of the breaker's last change: state %q, want it dropped (open, the default)", got)
	}
}
