package integration_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
)

// Issue 17 item 9, with the Prometheus observer: 20 000 distinct method names outside the
// configuration and the registered descriptors cost one breaker, one bulkhead and at most
// promobs.MaxMethods+1 series per metric family. (The one-chain half of the item is
// interceptors' TestUnboundedMethodNamesShareOneChain, which can count chains.)
func TestUnboundedMethodNamesBoundedSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	breakers := &breaker.Registry{}
	cfg := suitecfg.DefaultProfile(5, 4)
	p := cfg.Profiles[config.DefaultProfile]
	p.Retry = quickRetry(2)
	cfg.Profiles[config.DefaultProfile] = p
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(breakers), interceptors.WithObserver(metrics))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inv := &testkit.CountingInvoker{}
	unary := s.Unary()
	const names = 20000
	for i := range names {
		m := "/" + svcUnlisted + "/M" + strconv.Itoa(i)
		if err := unary(context.Background(), m, nil, nil, nil, inv.Invoke); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	nBreakers := 0
	breakers.Each(func(string, *breaker.Breaker) { nBreakers++ })
	nBulkheads := 0 // each bulkhead reads one capacity
	for l := range s.Levels {
		if l.Policy == observe.PolicyBulkhead && l.Kind == observe.LevelCapacity {
			nBulkheads++
		}
	}
	if nBreakers != 1 || nBulkheads != 1 {
		t.Errorf("%d names made %d breakers and %d bulkheads, want 1 and 1", names, nBreakers, nBulkheads)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) == 0 {
		t.Fatal("the registry gathered no metric family: promobs saw no call")
	}
	for _, f := range families {
		if n := len(f.GetMetric()); n > promobs.MaxMethods+1 {
			t.Errorf("%s has %d series after %d method names, want at most %d", f.GetName(), n, names, promobs.MaxMethods+1)
		}
	}
}
