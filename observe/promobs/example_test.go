package promobs_test

import (
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

func ExampleNew() {
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	metrics, err := promobs.New(reg)
	if err != nil {
		panic(err)
	}
	// Pass metrics to the policies as their observe.Sink, alone or with observe.Multi. Here we
	// feed it the events of a call that failed once and succeeded on its second attempt.
	var sink observe.Sink = metrics
	for _, e := range []observe.Event{
		{Kind: observe.AttemptFinished, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 1, Code: grpccodes.Unavailable, Class: codes.Transient, Duration: 5 * time.Millisecond},
		{Kind: observe.RetryScheduled, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 1, Code: grpccodes.Unavailable, Class: codes.Transient, Delay: 100 * time.Millisecond},
		{Kind: observe.AttemptFinished, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 2, Code: grpccodes.OK, Class: codes.Success, Duration: 20 * time.Millisecond},
		{Kind: observe.CallFinished, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 2, Code: grpccodes.OK, Class: codes.Success, Duration: 125 * time.Millisecond},
	} {
		sink.Observe(e)
	}

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels string
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "code" || lp.GetName() == "attempt" {
					labels = lp.GetName() + "=" + lp.GetValue()
				}
			}
			switch {
			case m.GetCounter() != nil:
				fmt.Printf("%s{%s} %v\n", mf.GetName(), labels, m.GetCounter().GetValue())
			case m.GetHistogram() != nil:
				fmt.Printf("%s count=%d sum=%v\n", mf.GetName(), m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum())
			}
		}
	}
	// Output:
	// bulwark_attempts_total{code=OK} 1
	// bulwark_attempts_total{code=Unavailable} 1
	// bulwark_call_duration_seconds count=1 sum=0.125
	// bulwark_calls_total{code=OK} 1
	// bulwark_retries_total{attempt=1} 1
	// bulwark_retry_backoff_seconds count=1 sum=0.1
}

func ExampleMetrics_TrackBulkhead() {
	reg := prometheus.NewRegistry()
	metrics, err := promobs.New(reg)
	if err != nil {
		panic(err)
	}
	metrics.TrackBulkhead("kyc.v1.OCRService", staticBulkhead{inFlight: 7, capacity: 8})
	metrics.TrackBreaker("kyc.v1.OCRService", func() string { return "half_open" })

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if v := m.GetGauge().GetValue(); v != 0 {
				fmt.Println(mf.GetName(), m.GetLabel()[len(m.GetLabel())-1].GetValue(), v)
			}
		}
	}
	// Output:
	// bulwark_breaker_state half_open 1
	// bulwark_bulkhead_capacity kyc.v1.OCRService 8
	// bulwark_bulkhead_in_flight kyc.v1.OCRService 7
}

type staticBulkhead struct{ inFlight, capacity int }

func (b staticBulkhead) InFlight() int { return b.inFlight }
func (b staticBulkhead) Capacity() int { return b.capacity }
