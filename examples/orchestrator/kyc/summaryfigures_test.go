package kyc_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// TestServiceFiguresFromEvents: Counters count a breaker opening only on a move to "open" (not
// to half_open or closed), a retry at the AttemptFinished of an attempt after the first that
// is no hedge (not at RetryScheduled: a retry scheduled may be cut in its backoff), and the
// summary counts an attempt as reached at the client unless a
// local policy rejected it, until the stub's own count replaces it.
func TestServiceFiguresFromEvents(t *testing.T) {
	c := kyc.NewCounters()
	svc := kycv1.LivenessService_ServiceDesc.ServiceName
	emit := func(k observe.Kind, n int) {
		for range n {
			c.Observe(observe.Event{Kind: k, Service: svc})
		}
	}
	emit(observe.CallFinished, 2)
	// Two calls: 1 and its retries 2 and 3; 1 and its hedge 2.
	for _, a := range []observe.Event{{Attempt: 1}, {Attempt: 2}, {Attempt: 3}, {Attempt: 1}, {Attempt: 2, Reason: observe.ReasonHedgeDelay}} {
		a.Kind, a.Service = observe.AttemptFinished, svc
		c.Observe(a)
	}
	emit(observe.Rejected, 2)
	emit(observe.RetryScheduled, 3) // the third cut in its backoff
	emit(observe.HedgeSent, 1)
	for _, to := range []string{"open", "half_open", "closed"} {
		c.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: svc, To: to})
	}
	c.Observe(observe.Event{Kind: observe.CallFinished, Service: "other.v1.Service"}) // not a KYC service

	s := kyc.SummarizeResult(kyc.Result{}, c)
	lv := s.Services[kyc.KeyLiveness]
	want := kyc.ServiceStats{Calls: 2, Attempts: 5, Retries: 2, BreakerOpens: 1, Rejections: 2, Hedges: 1,
		Reached: 3, ReachedPerCall: 1.5, ReachedSource: "client"}
	if lv != want {
		t.Errorf("liveness %+v, want %+v", lv, want)
	}
	if s.BreakerOpens != 1 || s.Hedges != 1 {
		t.Errorf("breaker opens %d, hedges %d; want 1, 1", s.BreakerOpens, s.Hedges)
	}
	if oc := s.Services[kyc.KeyOCR]; oc.Calls != 0 || oc.Reached != 0 || oc.ReachedPerCall != 0 {
		t.Errorf("ocr %+v, want zeros", oc)
	}

	s.SetReached(map[string]int64{kyc.KeyLiveness: 4}, nil)
	lv = s.Services[kyc.KeyLiveness]
	if lv.Reached != 4 || lv.ReachedPerCall != 2 || lv.ReachedSource != "stub" || s.BreakerOpens != 1 {
		t.Errorf("after the stub's count: liveness %+v, breaker opens %d; want reached 4, 2 per call, stub, 1 opening",
			lv, s.BreakerOpens)
	}
}

// TestTableListsReasonsLargestFirstThenByName: the table lists a step's reasons by count,
// largest first, and reasons of equal count by name, so that two runs print the same line.
func TestTableListsReasonsLargestFirstThenByName(t *testing.T) {
	s := kyc.SummarizeResult(kyc.Result{}, nil)
	s.Rejected = 3
	s.RejectedReasons = map[string]int{"ocr: DOCUMENT_UNREADABLE": 1, "liveness: SPOOF_DETECTED": 1, "facematch: FACE_MISMATCH": 2}
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "facematch: FACE_MISMATCH 2, liveness: SPOOF_DETECTED 1, ocr: DOCUMENT_UNREADABLE 1"
	if !strings.Contains(b.String(), want) {
		t.Errorf("table:\n%s\nwant the rejected reasons as %q", b.String(), want)
	}
}
