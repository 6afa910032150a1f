package hedge_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The simulation below runs the real hedging policy (and the real retry budget its hedges draw
// on) against an in-process service on a fake clock: no network, no scheduler, no CPU noise.
// A verification is three calls made at once, one per service (liveness, face match, OCR, as
// the KYC orchestrator makes them), each service with a Policy of its own; workers run the
// verifications a fixed number at a time. The fake clock moves only once every goroutine is
// blocked (testing/synctest's Wait tells when), to the next timer: every latency is exact.
//
// Each attempt's latency is drawn from its own seeded source, keyed by the seed, the service,
// the verification and the attempt number, so a run does not depend on the order in which
// goroutines happen to run at one instant.

// simMethod is the method every simulated call uses: NO_SIDE_EFFECTS, so it is hedged.
const simMethod = "/kyc.v1.FaceMatchService/Compare"

// simScenario is one run.
type simScenario struct {
	n, concurrency int
	services       int // calls per verification, one per service; 0 means 3
	seed           uint64
	// latency returns how long attempt (from 1) of verification i's call to service svc takes.
	latency func(svc, i, attempt int, r *rand.Rand) time.Duration
	hedge   hedge.Config
	retry   retry.Config // its Throttle is the budget hedges draw on
	off     bool         // hedging off: every call is one attempt
}

// simResult is what a run measured.
type simResult struct {
	lat      []time.Duration // per verification
	calls    int             // over the services
	requests int             // attempts sent, over the services
	perCall  [][]int         // perCall[svc][i]: attempts of verification i's call to svc
}

func (r simResult) attemptsPerCall() float64 { return float64(r.requests) / float64(r.calls) }

// over counts the verifications that took longer than d.
func (r simResult) over(d time.Duration) int {
	n := 0
	for _, l := range r.lat {
		if l > d {
			n++
		}
	}
	return n
}

// p99 is the nearest-rank 99th percentile of the verifications' latencies.
func (r simResult) p99() time.Duration {
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}

type verificationKey struct{}

// spikes is the latency of the issue 16 scenario: base plus up to 10% of jitter, and with
// probability rate a spike on top.
func spikes(base, spike time.Duration, rate float64) func(svc, i, attempt int, r *rand.Rand) time.Duration {
	return func(_, _, _ int, r *rand.Rand) time.Duration {
		d := base + time.Duration(r.Float64()*0.1*float64(base))
		if r.Float64() < rate {
			d += spike
		}
		return d
	}
}

// simulate runs sc and returns what it measured.
func simulate(t *testing.T, sc simScenario) simResult {
	t.Helper()
	if sc.services == 0 {
		sc.services = 3
	}
	res := simResult{lat: make([]time.Duration, sc.n), perCall: make([][]int, sc.services)}
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		rp, err := retry.New(sc.retry, retry.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		type service struct {
			ic       grpc.UnaryClientInterceptor
			budget   *retry.RetryBudget
			invoker  grpc.UnaryInvoker
			requests atomic.Int64
			attempts []atomic.Int32
		}
		svcs := make([]*service, sc.services)
		for s := range svcs {
			svc := &service{budget: rp.Budget("svc" + strconv.Itoa(s)), attempts: make([]atomic.Int32, sc.n)}
			p, err := hedge.New(sc.hedge, hedge.WithClock(clk), hedge.WithBudget(svc.budget))
			if err != nil {
				t.Fatal(err)
			}
			svc.ic = p.Unary()
			svc.invoker = func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				attempt := 1
				if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(hedge.PreviousAttemptsKey)) > 0 {
					prev, _ := strconv.Atoi(md.Get(hedge.PreviousAttemptsKey)[0])
					attempt = prev + 1
				}
				i := ctx.Value(verificationKey{}).(int)
				svc.requests.Add(1)
				svc.attempts[i].Add(1)
				r := rand.New(rand.NewPCG(sc.seed, uint64(s)<<48|uint64(i)<<8|uint64(attempt)))
				tm := clk.NewTimer(sc.latency(s, i, attempt, r))
				defer tm.Stop()
				select {
				case <-tm.C():
					return nil
				case <-ctx.Done():
					return status.FromContextError(ctx.Err()).Err()
				}
			}
			svcs[s] = svc
		}
		var opts []grpc.CallOption
		if sc.off {
			opts = append(opts, hedge.Disable())
		}
		var next atomic.Int64
		var done atomic.Bool
		var workers sync.WaitGroup
		for range sc.concurrency {
			workers.Go(func() {
				for i := int(next.Add(1)) - 1; i < sc.n; i = int(next.Add(1)) - 1 {
					ctx := context.WithValue(context.Background(), verificationKey{}, i)
					t0 := clk.Now()
					var steps sync.WaitGroup
					for _, svc := range svcs {
						steps.Go(func() {
							err := svc.ic(ctx, simMethod, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, svc.invoker, opts...)
							if err != nil {
								t.Errorf("verification %d: %v", i, err)
							}
							// The retry loop counts each call in the budget when its (hedged)
							// first attempt ends.
							if svc.budget != nil {
								svc.budget.Record(codes.Verdict{Class: codes.Success})
							}
						})
					}
					steps.Wait()
					res.lat[i] = clk.Since(t0)
				}
			})
		}
		go func() { workers.Wait(); done.Store(true) }()
		for {
			synctest.Wait()
			if done.Load() {
				break
			}
			clk.AdvanceWhenWaiting()
		}
		for s, svc := range svcs {
			res.calls += sc.n
			res.requests += int(svc.requests.Load())
			res.perCall[s] = make([]int, sc.n)
			for i := range svc.attempts {
				res.perCall[s][i] = int(svc.attempts[i].Load())
			}
		}
	})
	return res
}

// builtinML returns the built-in ml profile's hedge and retry sections (config/builtin.yaml).
func builtinML(t *testing.T) (hedge.Config, retry.Config) {
	t.Helper()
	ml, ok := config.Builtin().Profiles["ml"]
	if !ok || ml.Hedge == nil || ml.Retry == nil {
		t.Fatal("no built-in ml profile with hedge and retry sections")
	}
	return *ml.Hedge, *ml.Retry
}
