package benchmarks

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
)

// ConfiguredKinds are what ConfiguredSuite can configure many of.
var ConfiguredKinds = []string{"methods", "services"}

// ConfiguredSuite is the suite of BenchConfig + promobs with n methods (kind "methods") or n
// services (kind "services") configured, and the extra methods, which a measurement calls once
// before it starts so that each has its state (see methodsConfig and servicesConfig). The
// measured method is FaceMatchService.Compare: the per-call cost must not grow with n.
func ConfiguredSuite(kind string, n int) (*interceptors.Suite, []string, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("benchmarks: configured size %d: must be at least 1", n)
	}
	var (
		cfg   *config.Config
		extra []string
	)
	switch kind {
	case "methods":
		cfg, extra = methodsConfig(n)
	case "services":
		cfg, extra = servicesConfig(n)
	default:
		return nil, nil, fmt.Errorf("benchmarks: configured kind %q: must be one of %q", kind, ConfiguredKinds)
	}
	m, err := promobs.New(prometheus.NewRegistry())
	if err != nil {
		return nil, nil, err
	}
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(new(breaker.Registry)), interceptors.WithObserver(m))
	if err != nil {
		return nil, nil, err
	}
	return s, extra, nil
}

// servicesConfig is BenchConfig with n services configured in all: the two the server has,
// and n-2 more (bench.v1.SvcNNNNN, one configured method each). n below 2 configures
// FaceMatchService alone. It returns the extra methods, for the warm-up to call.
func servicesConfig(n int) (*config.Config, []string) {
	cfg := BenchConfig()
	if n < 2 {
		delete(cfg.Services, ServiceLiveness)
	}
	var extra []string
	for i := 2; i < n; i++ {
		svc := fmt.Sprintf("bench.v1.Svc%05d", i)
		cfg.Services[svc] = config.Service{Profile: "bench", Methods: map[string]config.Method{"Call": {}}}
		extra = append(extra, "/"+svc+"/Call")
	}
	return cfg, extra
}

// methodsConfig is BenchConfig with FaceMatchService alone, with n methods configured in all:
// Compare and n-1 more (MNNNNN, each with a retry setting of its own, so that each has a chain
// and policy objects of its own). It returns the extra methods, for the warm-up to call.
func methodsConfig(n int) (*config.Config, []string) {
	cfg := BenchConfig()
	delete(cfg.Services, ServiceLiveness)
	svc := cfg.Services[ServiceFaceMatch]
	svc.Methods = map[string]config.Method{"Compare": {}}
	var extra []string
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("M%05d", i)
		svc.Methods[name] = config.Method{Overrides: config.Overrides{
			Retry: config.Set(retry.Config{MaxAttempts: 2 + i%3}, "max_attempts")}}
		extra = append(extra, "/"+ServiceFaceMatch+"/"+name)
	}
	cfg.Services[ServiceFaceMatch] = svc
	return cfg, extra
}
