//go:build !race

// The race detector changes what allocates (sync.Pool drops objects at random under -race), so
// these counts are checked without it: make test runs this file in a second, race-free pass.

package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Allocation ceilings over a raw call, caller deadline set. Issue 20's goals are +12 and +14;
// both measure +7 (2026-12-02: one context per attempt with its timer, and grpc's copy of the
// trailers read for pushback), and the ceilings sit two above that, so that a regression fails
// while a sync.Pool emptied by a collection mid-measurement does not.
//
// Dialed with the suite's service config (Suite.ServiceConfigOption), grpc's own context keeps
// the full suite's per-attempt deadline and the suite makes none: +2 (2026-12-02), ceiling 4.
// The built-in ml profile hedges, which needs a context of its own: its count does not change.
const (
	maxFullSuiteAllocs = 9 // suitecfg.Full + promobs
	maxBuiltinAllocs   = 9 // config.Builtin()'s ml profile + promobs
	maxKeptSuiteAllocs = 4 // suitecfg.Full + promobs, dialed with its service config
)

// ceiling is a suite whose cost per call is held by a test: its allocations over a raw call
// (TestSuiteAllocsOverRaw) and the stack it uses before grpc's invoker (TestSuiteStackUnderCall).
type ceiling struct {
	name      string
	cfg       *config.Config
	maxAllocs float64
	maxStack  uintptr
	// serviceConfig dials with the suite's service config (Suite.ServiceConfigOption).
	serviceConfig bool
}

// ceilings are the suites under ceilings: issue 20's full suite and the built-in ml profile,
// both with Prometheus metrics.
func ceilings() []ceiling {
	return []ceiling{
		{"full suite + promobs", suitecfg.Full(), maxFullSuiteAllocs, maxFullSuiteStack, false},
		{"built-in ml profile + promobs", config.Builtin(), maxBuiltinAllocs, maxBuiltinStack, false},
		{"full suite + promobs, its service config", suitecfg.Full(), maxKeptSuiteAllocs, maxFullSuiteStack, true},
	}
}

// promSuite returns a suite of cfg with Prometheus metrics (promobs, on a registry of its own)
// and a breaker registry of its own, closed when t ends.
func promSuite(t *testing.T, cfg *config.Config) *interceptors.Suite {
	t.Helper()
	m, err := promobs.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s, err := interceptors.New(cfg, interceptors.WithObserver(m), interceptors.WithBreakerRegistry(new(breaker.Registry)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// serviceConfigOptions returns s's service config option (Suite.ServiceConfigOption) when
// serviceConfig is set, else none.
func serviceConfigOptions(t *testing.T, s *interceptors.Suite, serviceConfig bool) []grpc.DialOption {
	t.Helper()
	if !serviceConfig {
		return nil
	}
	o, err := s.ServiceConfigOption("")
	if err != nil {
		t.Fatal(err)
	}
	return []grpc.DialOption{o}
}

// allocsPerCall is the allocations of one successful Compare over cc, with a caller deadline,
// client and server together, averaged over many calls after a warm-up.
func allocsPerCall(t *testing.T, client kycv1.FaceMatchServiceClient) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := &kycv1.CompareRequest{Selfie: []byte("s"), DocumentFace: []byte("f")}
	call := func() {
		if _, err := client.Compare(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 {
		call()
	}
	return testing.AllocsPerRun(2000, call)
}

func TestSuiteAllocsOverRaw(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over thousands of calls")
	}
	srv := testkit.Start(t, &testkit.Server{})
	raw := allocsPerCall(t, kycv1.NewFaceMatchServiceClient(srv.Dial(t)))
	for _, tc := range ceilings() {
		t.Run(tc.name, func(t *testing.T) {
			s := promSuite(t, tc.cfg)
			got := allocsPerCall(t, kycv1.NewFaceMatchServiceClient(srv.Dial(t, append(s.DialOptions(), serviceConfigOptions(t, s, tc.serviceConfig)...)...)))
			t.Logf("raw %.0f, suite %.0f: %+.0f allocations per call", raw, got, got-raw)
			if got-raw > tc.maxAllocs {
				t.Errorf("%s allocates %+.0f per call over a raw call, want at most %+.0f", tc.name, got-raw, tc.maxAllocs)
			}
		})
	}
}
