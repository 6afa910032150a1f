package promobs_test

import (
	"context"
	"fmt"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
)

func ExampleMetrics_Scrape() {
	reg := prometheus.NewRegistry()
	metrics, err := promobs.New(reg)
	if err != nil {
		panic(err)
	}
	// A suite is a LevelSource too: metrics.Scrape(suite). Here, a registry and a bulkhead.
	var breakers breaker.Registry
	ocr, err := bulkhead.New("kyc.v1.OCRService", bulkhead.Config{MaxConcurrent: 8})
	if err != nil {
		panic(err)
	}
	metrics.Scrape(observe.LevelSources{&breakers, ocr})

	// Objects made and changed after Scrape are read at the scrape, with no event.
	b, err := breakers.Get("kyc.v1.OCRService", breaker.Config{})
	if err != nil {
		panic(err)
	}
	b.ForceOpen()
	_ = ocr.Acquire(context.Background())
	defer ocr.Release()

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if v := m.GetGauge().GetValue(); v != 0 {
				fmt.Println(mf.GetName(), m.GetLabel()[len(m.GetLabel())-1].GetValue(), v)
			}
		}
	}
	// Output:
	// bulwark_breaker_state forced_open 1
	// bulwark_bulkhead_capacity kyc.v1.OCRService 8
	// bulwark_bulkhead_in_flight kyc.v1.OCRService 1
}
