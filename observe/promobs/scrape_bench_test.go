package promobs_test

import (
	"fmt"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkScrapeLevels gathers the level metrics of 110 breakers (100 of a service, 10 of a
// method) and 10 bulkheads read live through Scrape: the cost a Prometheus scrape pays for them.
func BenchmarkScrapeLevels(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		b.Fatal(err)
	}
	var breakers breaker.Registry
	src := observe.LevelSources{&breakers}
	for i := range 100 {
		if _, err := breakers.Get(fmt.Sprintf("/kyc.v1.S%d/M", i%10), breaker.Config{}); err != nil {
			b.Fatal(err)
		}
		if _, err := breakers.Get(fmt.Sprintf("kyc.v1.S%d", i), breaker.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10 {
		bh, err := bulkhead.New(fmt.Sprintf("kyc.v1.S%d", i), bulkhead.Config{MaxConcurrent: 4})
		if err != nil {
			b.Fatal(err)
		}
		src = append(src, bh)
	}
	m.Scrape(src)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
