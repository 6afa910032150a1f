package promobs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The real breaker and bulkhead plug into promobs as its documentation shows.
func TestWithRealPolicies(t *testing.T) {
	m, reg := newMetrics(t)

	bh, err := bulkhead.New(ocr, bulkhead.Config{MaxConcurrent: 2}, bulkhead.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	var _ promobs.Bulkhead = bh
	m.TrackBulkhead(ocr, bh)

	br, err := breaker.New(ocr, breaker.Config{ConsecutiveFailures: 2}, breaker.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	m.TrackBreaker(br.Name(), func() string { return br.State().String() })

	unavailable := status.Error(grpccodes.Unavailable, "down")
	for range 2 {
		if err := br.Execute(func() error { return unavailable }); !errors.Is(err, unavailable) {
			t.Fatalf("Execute = %v; want the call's error", err)
		}
	}
	if err := br.Execute(func() error { return nil }); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("Execute on an open breaker = %v; want a rejection", err)
	}

	assertSamples(t, scrape(t, reg, promobs.NameBreakerState, promobs.NameBreakerTransitions, promobs.NameRejections),
		merge(stateSamples(ocr, "open"), publishedTransitionSamples(ocr, ""), map[string]float64{
			`bulwark_breaker_transitions_total{from="closed",method="",service="kyc.v1.OCRService",to="open"}`: 1,
			`bulwark_rejections_total{policy="breaker",reason="CIRCUIT_OPEN",service="kyc.v1.OCRService"}`:     1,
		}))

	br.Reset()
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "closed"))

	ctx := context.Background()
	for range 2 {
		if err := bh.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := bh.Acquire(ctx); !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("Acquire on a full bulkhead = %v; want ErrFull", err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity, promobs.NameRejections), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`:                              2,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:                               2,
		`bulwark_rejections_total{policy="breaker",reason="CIRCUIT_OPEN",service="kyc.v1.OCRService"}`:   1,
		`bulwark_rejections_total{policy="bulkhead",reason="BULKHEAD_FULL",service="kyc.v1.OCRService"}`: 1,
	})
	bh.Release()
	bh.Release()
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`: 0,
	})
}
