package kyc_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// TestBreakerOpensCountFoldedChanges: a BreakerStateChanged that stands for several changes
// (its breaker's sink was held) counts every open it folded: To == open once, plus its
// FoldedTrips and FoldedReopens, whatever its To.
func TestBreakerOpensCountFoldedChanges(t *testing.T) {
	svc := kycv1.OCRService_ServiceDesc.ServiceName
	for _, c := range []struct {
		name string
		e    observe.Event
		want int64
	}{
		{"one change to open", observe.Event{To: "open"}, 1},
		{"one change to half_open", observe.Event{From: "open", To: "half_open"}, 0},
		{"folded, ends open", observe.Event{From: "closed", To: "open", FoldedTrips: 2, FoldedReopens: 3}, 6},
		{"folded, ends half_open", observe.Event{From: "closed", To: "half_open", FoldedTrips: 1}, 1},
		{"folded, ends closed", observe.Event{From: "closed", To: "closed", FoldedTrips: 2, FoldedReopens: 1}, 3},
		{"saturated counts", observe.Event{From: "closed", To: "open", FoldedTrips: 65535, FoldedReopens: 65535}, 131071},
	} {
		t.Run(c.name, func(t *testing.T) {
			counters := kyc.NewCounters()
			e := c.e
			e.Kind, e.Service = observe.BreakerStateChanged, svc
			counters.Observe(e)
			s := kyc.SummarizeResult(kyc.Result{}, counters)
			if got := s.Services[kyc.KeyOCR].BreakerOpens; got != c.want {
				t.Errorf("ocr breaker opens %d, want %d", got, c.want)
			}
			if s.BreakerOpens != c.want {
				t.Errorf("summary breaker opens %d, want %d", s.BreakerOpens, c.want)
			}
		})
	}
}
