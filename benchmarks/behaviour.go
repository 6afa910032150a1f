package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// Time scales of the fault runs. The ml profile's backoffs (1s, 20s, 3s of jitter) are run
// 10⁵ times faster, so that thousands of calls finish in seconds; their shape (4 attempts,
// doubling, additive jitter) and every count-based rule (retry budget, breaker thresholds) are
// untouched. Per-attempt timeouts and the 8s budget are left as they are: a healthy attempt
// over bufconn takes tens of microseconds, far from either.
const (
	BackoffScale = 1e-5
	// RecoveryScale turns the ml breaker's 30s recovery timeout into 30ms.
	RecoveryScale = 1e-3
)

// ScaledBuiltin returns config.Builtin() with the ml profile's backoffs multiplied by
// backoffScale and its breaker's recovery timeout by recoveryScale.
func ScaledBuiltin(backoffScale, recoveryScale float64) *config.Config {
	cfg := config.Builtin()
	p := cfg.Profiles["ml"]
	r := *p.Retry
	sc := func(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }
	r.InitialBackoff = sc(r.InitialBackoff, backoffScale)
	r.MaxBackoff = sc(r.MaxBackoff, backoffScale)
	r.JitterAmount = sc(r.JitterAmount, backoffScale)
	b := *p.Breaker
	b.RecoveryTimeout = sc(b.RecoveryTimeout, recoveryScale)
	p.Retry, p.Breaker = &r, &b
	cfg.Profiles["ml"] = p
	return cfg
}

// FaultChain is a chain the fault runs use, made fresh for each run so that no retry budget
// or breaker state carries over.
type FaultChain struct {
	Name string
	New  func() (Chain, error)
}

// FaultChains returns the chains of the fault runs: the ml retry alone without and with its
// retry budget (gRFC A6 throttling, 10 tokens, 0.1 per success, as the profile has it; and 0.5
// per success, for comparison), and the whole suite with the built-in configuration (ml
// profile: retry with budget, breaker, bulkhead, deadline), all with backoffs scaled by
// BackoffScale.
func FaultChains() []FaultChain {
	retryChain := func(ratio float64) func() (Chain, error) {
		return func() (Chain, error) {
			p, err := retry.New(MLRetry(BackoffScale, ratio))
			if err != nil {
				return Chain{}, err
			}
			return Chain{Name: "retry", Unary: p.Unary(), Stream: p.Stream()}, nil
		}
	}
	return []FaultChain{
		{"retry ml, no budget", retryChain(0)},
		{"retry ml, budget 10/0.1", retryChain(0.1)},
		{"retry ml, budget 10/0.5", retryChain(0.5)},
		{"suite, builtin ml profile", func() (Chain, error) {
			return NewSuiteChain(ScaledBuiltin(BackoffScale, RecoveryScale))
		}},
	}
}

// NewSuiteChain returns a suite for cfg with a breaker registry of its own.
func NewSuiteChain(cfg *config.Config) (Chain, error) {
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(new(breaker.Registry)))
	if err != nil {
		return Chain{}, err
	}
	return Chain{Name: "suite", Unary: s.Unary(), Stream: s.Stream()}, nil
}

// FaultResult is what one fault run saw.
type FaultResult struct {
	Chain     string
	FailRate  float64
	Calls     int
	Succeeded int
	// Attempts is the number of requests that reached the server.
	Attempts int64
	// Rejected counts calls refused by a bulwark policy without reaching the server on their
	// last attempt (breaker open, for instance).
	Rejected int
	Elapsed  time.Duration
}

// AttemptsPerCall is the attempts sent per logical call.
func (r FaultResult) AttemptsPerCall() float64 { return float64(r.Attempts) / float64(r.Calls) }

// SuccessShare is the share of calls that succeeded.
func (r FaultResult) SuccessShare() float64 { return float64(r.Succeeded) / float64(r.Calls) }

// rejectionReason returns the ErrorInfo reason of a bulwark rejection, or "".
func rejectionReason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

// RunFaults makes calls serial Compare calls through a fresh chain of fc while the server
// fails a share failRate of its requests with Unavailable.
func RunFaults(ctx context.Context, srv *Server, fc FaultChain, failRate float64, calls int) (FaultResult, error) {
	ch, err := fc.New()
	if err != nil {
		return FaultResult{}, err
	}
	cc, err := srv.Dial(ch.DialOptions()...)
	if err != nil {
		return FaultResult{}, err
	}
	defer func() { _ = cc.Close() }()
	client := kycv1.NewFaceMatchServiceClient(cc)
	req := &kycv1.CompareRequest{}
	srv.SetFailRate(0)
	if _, err := client.Compare(ctx, req); err != nil { // connect before counting
		return FaultResult{}, fmt.Errorf("%s: warm-up: %w", fc.Name, err)
	}
	srv.SetFailRate(failRate)
	defer srv.SetFailRate(0)
	srv.ResetCounts()
	res := FaultResult{Chain: fc.Name, FailRate: failRate, Calls: calls}
	start := time.Now()
	for range calls {
		_, err := client.Compare(ctx, req)
		switch {
		case err == nil:
			res.Succeeded++
		case rejectionReason(err) != "":
			res.Rejected++
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	res.Elapsed = time.Since(start)
	res.Attempts = srv.Requests()
	return res, nil
}

// FailFastResult is the cost of a call refused by an open breaker, against the cost of a call
// that reaches the downed service.
type FailFastResult struct {
	Calls int
	// RejectedNs and RejectedAllocs are per call refused by the suite's open breaker.
	RejectedNs, RejectedAllocs float64
	// Reached counts the requests that reached the service while the breaker was open.
	Reached int64
	// RawNs and RawAllocs are per call made without interceptors to the downed service.
	RawNs, RawAllocs float64
}

var errNotOpen = errors.New("benchmarks: the breaker did not open")

// RunFailFast downs the service, trips the suite's breaker (builtin ml profile, 30s recovery:
// it stays open for the whole run), then times calls refused by it, and calls made without
// interceptors to the same downed service.
func RunFailFast(ctx context.Context, srv *Server, calls int) (FailFastResult, error) {
	res := FailFastResult{Calls: calls}
	ch, err := NewSuiteChain(ScaledBuiltin(BackoffScale, 1))
	if err != nil {
		return res, err
	}
	cc, err := srv.Dial(ch.DialOptions()...)
	if err != nil {
		return res, err
	}
	defer func() { _ = cc.Close() }()
	raw, err := srv.Dial()
	if err != nil {
		return res, err
	}
	defer func() { _ = raw.Close() }()
	suite, direct := kycv1.NewFaceMatchServiceClient(cc), kycv1.NewFaceMatchServiceClient(raw)
	req := &kycv1.CompareRequest{}
	for _, c := range []kycv1.FaceMatchServiceClient{suite, direct} {
		if _, err := c.Compare(ctx, req); err != nil {
			return res, err
		}
	}
	srv.SetDown(true)
	defer srv.SetDown(false)
	open := false
	for range 100 {
		_, err := suite.Compare(ctx, req)
		if rejectionReason(err) == breaker.ReasonCircuitOpen {
			open = true
			break
		}
	}
	if !open {
		return res, errNotOpen
	}
	measure := func(c kycv1.FaceMatchServiceClient) (ns, allocs float64) {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		start := time.Now()
		for range calls {
			_, _ = c.Compare(ctx, req)
		}
		el := time.Since(start)
		runtime.ReadMemStats(&m1)
		return float64(el.Nanoseconds()) / float64(calls), float64(m1.Mallocs-m0.Mallocs) / float64(calls)
	}
	srv.ResetCounts()
	res.RejectedNs, res.RejectedAllocs = measure(suite)
	res.Reached = srv.Requests()
	res.RawNs, res.RawAllocs = measure(direct)
	return res, nil
}

// LeakResult counts what reaches a downed service while the suite's breaker cycles between
// open and half-open.
type LeakResult struct {
	Duration          time.Duration
	RecoveryTimeout   time.Duration
	Calls             int
	Reached, Rejected int
}

// RunLeak downs the service and makes serial calls through the suite (builtin ml profile,
// breaker recovery scaled to recovery) for d, counting calls and the requests that reach the
// service: after the trip, only half-open probes (one per recovery timeout) should.
func RunLeak(ctx context.Context, srv *Server, d, recovery time.Duration) (LeakResult, error) {
	res := LeakResult{Duration: d, RecoveryTimeout: recovery}
	ch, err := NewSuiteChain(ScaledBuiltin(BackoffScale, float64(recovery)/float64(30*time.Second)))
	if err != nil {
		return res, err
	}
	cc, err := srv.Dial(ch.DialOptions()...)
	if err != nil {
		return res, err
	}
	defer func() { _ = cc.Close() }()
	client := kycv1.NewFaceMatchServiceClient(cc)
	req := &kycv1.CompareRequest{}
	if _, err := client.Compare(ctx, req); err != nil {
		return res, err
	}
	srv.SetDown(true)
	defer srv.SetDown(false)
	srv.ResetCounts()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		_, err := client.Compare(ctx, req)
		res.Calls++
		if rejectionReason(err) == breaker.ReasonCircuitOpen {
			res.Rejected++
		}
	}
	res.Reached = int(srv.Requests())
	return res, nil
}
