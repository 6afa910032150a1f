package promobs_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	retrypolicy "github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The calls of services past a suite's bound on unlisted services (WithUnlistedLimit), served
// by its overflow chain, are counted under the service "*" and the method "/*/*" in every
// family, their attempts and retries as their calls: the services and methods in the labels
// are the bound's and "*", whatever names the calls bring, and the retry ratio of "*" compares
// its retries with its calls. Before, the attempts and retries of each such call carried the
// call's own service and method, of which there were as many series as names sent.
func TestOverflowCallsAreLabelledStar(t *testing.T) {
	const bound, services = 2, 10
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	p := config.Profile{
		Retry:    &retrypolicy.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retrypolicy.JitterNone, Idempotent: true},
		Breaker:  &breaker.Config{ConsecutiveFailures: 100, RecoveryTimeout: time.Hour},
		Bulkhead: &bulkhead.Config{MaxConcurrent: 8},
	}
	s, err := interceptors.New(&config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: p}},
		interceptors.WithObserver(m), interceptors.WithUnlistedLimit(bound))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m.Scrape(s)
	name := func(i int) string { return "/x" + strconv.Itoa(i) + ".v1.Svc/Do" }
	failed := map[string]bool{}
	// Each call fails once, then succeeds at its retry.
	invoke := func(_ context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if !failed[method] {
			failed[method] = true
			return status.Error(grpccodes.Unavailable, "down")
		}
		return nil
	}
	for i := range services {
		if err := s.Unary()(context.Background(), name(i), nil, nil, nil, invoke); err != nil {
			t.Fatalf("%s: %v", name(i), err)
		}
	}
	wantServices := map[string]bool{"*": true, "x0.v1.Svc": true, "x1.v1.Svc": true}
	wantMethods := map[string]bool{"": true, "/*/*": true, name(0): true, name(1): true}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				switch l.GetName() {
				case "service":
					if !wantServices[l.GetValue()] {
						t.Errorf("%s has service=%q, want one of the bound's or \"*\"", mf.GetName(), l.GetValue())
					}
				case "method":
					if !wantMethods[l.GetValue()] {
						t.Errorf("%s has method=%q, want one of the bound's or \"/*/*\"", mf.GetName(), l.GetValue())
					}
				}
			}
		}
	}
	// The overflow calls are counted, under "*": 8 calls, 16 attempts, 8 retries.
	got := scrape(t, reg, promobs.NameCalls, promobs.NameAttempts, promobs.NameRetries)
	for series, want := range map[string]float64{
		`bulwark_calls_total{class="success",code="OK",method="/*/*",service="*"}`:               services - bound,
		`bulwark_attempts_total{class="success",code="OK",method="/*/*",service="*"}`:            services - bound,
		`bulwark_attempts_total{class="transient",code="Unavailable",method="/*/*",service="*"}`: services - bound,
		`bulwark_retries_total{attempt="1",service="*"}`:                                         services - bound,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
}
