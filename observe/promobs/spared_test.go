package promobs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAttemptsSpared: each AttemptSpared counts one attempt in
// bulwark_retry_attempts_spared_total, by service and the attempt's number as
// bulwark_retries_total buckets it (1 to 4, then 5+); neither its method nor its timeout is a
// label.
func TestAttemptsSpared(t *testing.T) {
	m, reg := newMetrics(t)
	for _, e := range []observe.Event{
		{Service: ocr, Method: extract, Attempt: 1, Delay: 5 * time.Second},
		{Service: ocr, Method: "/kyc.v1.OCRService/Other", Attempt: 1, Delay: time.Second},
		{Service: ocr, Method: extract, Attempt: 2, Delay: 5 * time.Second},
		{Service: ocr, Method: extract, Attempt: 7, Delay: 5 * time.Second},
		{Service: face, Method: compare, Attempt: 1, Delay: 800 * time.Millisecond},
	} {
		e.Kind, e.Policy, e.Time = observe.AttemptSpared, observe.PolicyRetry, time.Unix(100, 0)
		m.Observe(e)
	}
	want := `
# HELP bulwark_retry_attempts_spared_total Attempts a per-attempt timeout that cuts overtaken attempts only (per_attempt_cut: overtaken) reached and let run on, by the attempt's number (1 to 4, then 5+): the service answered no later attempt in under half the timeout, so it is slow for every caller, not stalled on one request. A rise says so before any breaker sees a failure.
# TYPE bulwark_retry_attempts_spared_total counter
bulwark_retry_attempts_spared_total{attempt="1",service="kyc.v1.FaceMatchService"} 1
bulwark_retry_attempts_spared_total{attempt="1",service="kyc.v1.OCRService"} 2
bulwark_retry_attempts_spared_total{attempt="2",service="kyc.v1.OCRService"} 1
bulwark_retry_attempts_spared_total{attempt="5+",service="kyc.v1.OCRService"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), promobs.NameAttemptsSpared); err != nil {
		t.Error(err)
	}
}
