package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Full gRPC service names, as the suite names breakers, bulkheads and metric labels.
var (
	svcLiveness  = kycv1.LivenessService_ServiceDesc.ServiceName
	svcFaceMatch = kycv1.FaceMatchService_ServiceDesc.ServiceName
	svcOCR       = kycv1.OCRService_ServiceDesc.ServiceName
)

// methods maps a step to the full method its call uses.
var methods = map[kycv1.Step]string{
	kycv1.Step_STEP_LIVENESS:   stub.MethodCheck,
	kycv1.Step_STEP_FACE_MATCH: stub.MethodCompare,
	kycv1.Step_STEP_OCR:        stub.MethodExtract,
}

// quickRetries shortens the built-in backoffs (keeping the profiles' attempt counts) and
// turns retry throttling, hedging and adaptive throttling off, so that a test's outcome does
// not depend on how faults and latencies happen to cluster, and each attempt a step reports
// is one request the stub sees. The tests of those three (adaptive_test.go) turn them on.
const quickRetries = `
services:
  kyc.v1.LivenessService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
    hedge: off
    adaptive_throttle: off
  kyc.v1.FaceMatchService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
    hedge: off
    adaptive_throttle: off
  kyc.v1.OCRService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
    hedge: off
    adaptive_throttle: off
`

// harness is the orchestrator's verifier dialled through a suite to three stubs, one per
// service, so that one service can go down alone.
type harness struct {
	stubs    map[string]*stub.Stub // by full service name
	suite    *interceptors.Suite
	breakers *breaker.Registry // the suite's breakers, for a test that needs one's counts
	reg      *prometheus.Registry
	rec      *testkit.Recorder
	counters *kyc.Counters
	v        *kyc.Verifier
	conns    map[string]*grpc.ClientConn // by full service name
}

// newHarness builds a harness from a YAML configuration (merged over the built-ins) and the
// stubs' fault profile. extra sinks see every event after promobs has counted it.
func newHarness(t *testing.T, yaml string, faults stub.Faults, extra ...observe.Sink) *harness {
	t.Helper()
	return newSeededHarnessWith(t, yaml, faults, 0, nil, extra...)
}

// newHarnessWith is newHarness with extra suite options (a fake clock, a seeded random source).
func newHarnessWith(t *testing.T, yaml string, faults stub.Faults, opts []interceptors.Option, extra ...observe.Sink) *harness {
	t.Helper()
	return newSeededHarnessWith(t, yaml, faults, 0, opts, extra...)
}

// newSeededHarness is newHarness with the stubs' faults drawn from seed: the stub of the i-th
// service (0-based) is seeded with seed·10 + i + 1, so seed 0 is newHarness's seeds 1, 2, 3.
func newSeededHarness(t *testing.T, yaml string, faults stub.Faults, seed int64, extra ...observe.Sink) *harness {
	t.Helper()
	return newSeededHarnessWith(t, yaml, faults, seed, nil, extra...)
}

// newSeededHarnessWith is newSeededHarness with extra suite options.
func newSeededHarnessWith(t *testing.T, yaml string, faults stub.Faults, seed int64, opts []interceptors.Option, extra ...observe.Sink) *harness {
	t.Helper()
	cfg, _, err := config.Parse("e2e.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return newHarnessConfig(t, cfg, faults, seed, opts, extra...)
}

// newHarnessConfig is newHarnessWith from a configuration already parsed (and possibly
// changed, as scaleConfig does).
func newHarnessConfig(t *testing.T, cfg *config.Config, faults stub.Faults, seed int64, opts []interceptors.Option, extra ...observe.Sink) *harness {
	t.Helper()
	return buildHarness(t, cfg, faults, seed, new(breaker.Registry), opts, extra...)
}

// newBreakerClockHarness is newHarness whose breakers alone run on clk: their recovery
// timeouts pass when the test advances clk, while backoffs, deadlines and the orchestrator's
// step timings keep the real clock.
func newBreakerClockHarness(t *testing.T, yaml string, faults stub.Faults, clk clock.Clock, extra ...observe.Sink) *harness {
	t.Helper()
	cfg, _, err := config.Parse("e2e.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return buildHarness(t, cfg, faults, 0, breaker.NewRegistry(breaker.WithClock(clk)), nil, extra...)
}

// buildHarness is newHarnessConfig with the suite's breakers taken from breakers.
func buildHarness(t *testing.T, cfg *config.Config, faults stub.Faults, seed int64, breakers *breaker.Registry, opts []interceptors.Option, extra ...observe.Sink) *harness {
	t.Helper()
	h := &harness{
		stubs: map[string]*stub.Stub{}, conns: map[string]*grpc.ClientConn{},
		reg: prometheus.NewRegistry(), rec: &testkit.Recorder{}, counters: kyc.NewCounters(),
		breakers: breakers,
	}
	metrics, err := promobs.New(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	sinks := append([]observe.Sink{metrics, h.rec, h.counters}, extra...)
	// Each harness has its own breakers: the default registry would share them across tests.
	h.suite, err = interceptors.New(cfg, append([]interceptors.Option{interceptors.WithObserver(observe.Multi(sinks...)),
		interceptors.WithBreakerRegistry(h.breakers)}, opts...)...)
	if err != nil {
		t.Fatalf("suite: %v", err)
	}
	t.Cleanup(func() { _ = h.suite.Close() })
	// Breaker states, bulkhead levels and throttle probabilities, read from the suite at each
	// scrape.
	metrics.Scrape(h.suite)
	for i, svc := range stub.AllServices() {
		s, err := stub.Start(context.Background(), stub.Config{
			Services: []string{svc}, Faults: faults, Seed: seed*10 + int64(i+1), StopTimeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		full := stub.HealthName(svc)
		h.stubs[full] = s
		opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, h.suite.DialOptions()...)
		cc, err := grpc.NewClient(s.Addr(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		h.conns[full] = cc
	}
	h.v = kyc.NewVerifier(h.conns[svcLiveness], h.conns[svcFaceMatch], h.conns[svcOCR])
	h.v.Budget = cfg.Budget
	return h
}

// level returns the suite's first reading of kind for the object named name (a service, or a
// full method for a method-scoped object), as promobs would expose it, and whether there is one.
func (h *harness) level(kind observe.LevelKind, name string) (observe.Level, bool) {
	for l := range h.suite.Levels {
		// A method-scoped breaker reads its service and its method; other objects their name.
		id := l.Service
		if l.Method != "" {
			id = l.Method
		}
		if l.Kind == kind && id == name {
			return l, true
		}
	}
	return observe.Level{}, false
}

// breakerState returns the state of the breaker named name ("closed", "open", "half_open",
// ...), read now, or "" when the suite has no such breaker.
func (h *harness) breakerState(name string) string {
	l, _ := h.level(observe.LevelBreakerState, name)
	return l.State
}

// bulkheadLevel returns the calls holding a slot of the bulkhead named name and its slots in
// all (an adaptive bulkhead's current limit), read together now; ok is false when the suite
// has no such bulkhead.
func (h *harness) bulkheadLevel(name string) (inFlight, capacity int, ok bool) {
	for l := range h.suite.Levels {
		if l.Policy != observe.PolicyBulkhead || l.Service != name {
			continue
		}
		switch l.Kind {
		case observe.LevelInFlight:
			inFlight = int(l.Value)
		case observe.LevelCapacity:
			// A bulkhead yields its in-flight count and then its capacity: the pair is complete.
			return inFlight, int(l.Value), true
		}
	}
	return 0, 0, false
}

// throttleProbability returns the rejection probability of the adaptive throttle named name,
// read now; ok is false when the suite has no such throttle.
func (h *harness) throttleProbability(name string) (p float64, ok bool) {
	l, ok := h.level(observe.LevelThrottleProbability, name)
	return l.Value, ok
}

// stubFor returns the stub serving the method of step.
func (h *harness) stubFor(st kycv1.Step) *stub.Stub {
	switch st {
	case kycv1.Step_STEP_LIVENESS:
		return h.stubs[svcLiveness]
	case kycv1.Step_STEP_FACE_MATCH:
		return h.stubs[svcFaceMatch]
	}
	return h.stubs[svcOCR]
}

// verify runs one verification with the stub scripting metadata kv (MDRequestID is set to the
// verification id).
func (h *harness) verify(t *testing.T, req *kycv1.VerifyRequest, kv ...string) *kycv1.VerifyResponse {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		append([]string{stub.MDRequestID, req.GetVerificationId()}, kv...)...)
	resp, err := h.v.Verify(ctx, req)
	if err != nil {
		t.Fatalf("verify %s: %v", req.GetVerificationId(), err)
	}
	return resp
}

// parallel runs fn(i) for i in [0, n) on workers goroutines. The indices are queued before
// the workers start: a worker that fn ends early (t.Fatal, as in verify) leaves the rest to
// the others, or unrun when none is left, instead of blocking the queue until the test times
// out.
func parallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// metric sums the samples of a counter or gauge family whose labels include want.
func metric(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	v, err := gatherSum(reg, name, want)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// gatherSum is metric for any goroutine: it returns the error instead of failing the test.
func gatherSum(reg prometheus.Gatherer, name string, want map[string]string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	samples:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue samples
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum, nil
}

// requestsTotal is every request the stub counted for method, whatever its code.
func requestsTotal(s *stub.Stub, method string) int {
	n := 0
	for c := range 17 {
		n += s.Requests(method, grpccodes.Code(c))
	}
	return n
}

func stepOf(t *testing.T, resp *kycv1.VerifyResponse, st kycv1.Step) *kycv1.StepOutcome {
	t.Helper()
	for _, o := range resp.GetSteps() {
		if o.GetStep() == st {
			return o
		}
	}
	t.Fatalf("%s: no outcome for %v", resp.GetVerificationId(), st)
	return nil
}

func describe(resp *kycv1.VerifyResponse) string {
	s := fmt.Sprintf("%s %v %v", resp.GetVerificationId(), resp.GetDecision(), resp.GetRejectionReasons())
	for _, o := range resp.GetSteps() {
		s += fmt.Sprintf(" [%v %v %s %s x%d %v]", o.GetStep(), o.GetStatus(), o.GetCode(), o.GetReason(),
			o.GetAttempts(), o.GetDuration().AsDuration().Round(time.Millisecond))
	}
	return s
}

// writeConfig writes a YAML configuration to a temporary file and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bulwark.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// seededRand returns a seeded source of draws in [0, 1) that is safe for concurrent use, as
// interceptors.WithRand requires: a suite draws from it on every goroutine a call or a hedge
// runs on (the throttle's draws of two hedges of one call raced on a bare *rand.Rand).
func seededRand(seed1, seed2 uint64) func() float64 {
	rnd := rand.New(rand.NewPCG(seed1, seed2))
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return rnd.Float64()
	}
}
