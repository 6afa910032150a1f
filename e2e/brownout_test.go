package e2e

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
)

// The brownout tests (issue 15) run the built-in profiles' brownout policies (brownoutConfig)
// with every duration divided by timeScale: the budget (8s → 4s), backoffs and jitter,
// per-attempt timeouts, the breakers' open intervals, the budgets' and throttles' windows,
// and the stubs' latency (20ms → 10ms) alike; per-second rates (the retry budget's floor) are
// multiplied by it. Every ratio between them is kept, so each policy decides as it would at
// full scale, twice as fast. Faults are seeded; the assertions are on counts, with margins
// computed from the binomial variance of the outcomes the stubs draw.
//
// Why only 2: the machine's own delays are not scaled. At 5 (a 4ms stub latency) two -race
// test binaries on a loaded 2-core machine stalled calls for longer than a scaled retry
// schedule: the machine was tested, not the policies.
const timeScale = 2

// outageTestConfig is brownoutConfig with per-attempt timeouts of ml 3s and OCR 1.25s (the
// built-ins' is 5s, for requests that never answer): in an outage the breakers' probes decide
// the cost, and a probe that a stalled test machine holds must be cut soon, not by the whole
// budget, or one stall keeps a breaker half-open, refusing everything, for seconds. Against a
// real outage a probe fails at once, whatever the timeout.
const outageTestConfig = `
services:
  kyc.v1.LivenessService: {bulkhead: off, hedge: off, retry: {per_attempt_timeout: 3s}}
  kyc.v1.FaceMatchService: {bulkhead: off, hedge: off, retry: {per_attempt_timeout: 3s}}
  kyc.v1.OCRService: {bulkhead: off, hedge: off, retry: {per_attempt_timeout: 1250ms}}
`

// brownoutConfig keeps the built-ins' brownout policies (retry attempts, the fitted schedule,
// the ratio budget, the breakers, the adaptive throttles, the deadlines) and takes out what
// turns the machine's own delays into failures. Measured with the built-ins whole, two test
// binaries on a loaded machine failed hundreds of steps: the ml gradient bulkhead read CPU
// stalls as a server queue, its limit fell and calls failed BULKHEAD_FULL after its wait;
// stalls longer than OCR's per-attempt timeout failed 20 concurrent calls at once with
// DEADLINE_EXCEEDED, which opened its breaker; and hedges fired on stalls and drew on the
// retry budget. So the bulkheads and hedging are off (the tail tests cover hedging), and every
// attempt may take the whole budget: the faults here are fast Unavailable answers, which no
// per-attempt timeout is needed for. BENCHMARKS.md's brownout table runs the built-ins whole.
const brownoutConfig = `
services:
  kyc.v1.LivenessService: {bulkhead: off, hedge: off, retry: {per_attempt_timeout: 8s}}
  kyc.v1.FaceMatchService: {bulkhead: off, hedge: off, retry: {per_attempt_timeout: 8s}}
  kyc.v1.OCRService: {bulkhead: off, hedge: off, retry: {per_attempt_timeout: 8s}}
`

var durationType = reflect.TypeFor[time.Duration]()

// scaleConfig returns a copy of cfg (resolved: the built-ins merged with the test's YAML)
// with every time.Duration divided by k and every per-second rate multiplied by k. Only
// values set in cfg are scaled: a zero that means a package default stays the unscaled
// default, so the profiles scaled here set every duration they use.
func scaleConfig(cfg *config.Config, k float64) *config.Config {
	out := cfg.Clone()
	scaleValue(reflect.ValueOf(out).Elem(), k)
	return out
}

func scaleValue(v reflect.Value, k float64) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scaleValue(v.Elem(), k)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			switch {
			case f.Type() == durationType:
				f.SetInt(int64(float64(f.Int()) / k))
			case f.Kind() == reflect.Float64 && (strings.HasSuffix(tag, "per_second") || tag == "rate"):
				f.SetFloat(f.Float() * k)
			default:
				scaleValue(f, k)
			}
		}
	case reflect.Map:
		for _, key := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(key))
			scaleValue(e, k)
			v.SetMapIndex(key, e)
		}
	case reflect.Slice:
		for i := range v.Len() {
			scaleValue(v.Index(i), k)
		}
	}
}

// scaleFaults divides the stubs' durations by k.
func scaleFaults(f stub.Faults, k float64) stub.Faults {
	f.Latency = time.Duration(float64(f.Latency) / k)
	f.Spike = time.Duration(float64(f.Spike) / k)
	f.Pushback = time.Duration(float64(f.Pushback) / k)
	return f
}

// TestScaleConfigKeepsRatios checks the helper itself on the built-in ml profile.
func TestScaleConfigKeepsRatios(t *testing.T) {
	cfg := config.Builtin()
	s := scaleConfig(cfg, 4)
	ml, sml := cfg.Profiles["ml"], s.Profiles["ml"]
	checks := []struct {
		name      string
		full, got time.Duration
	}{
		{"budget", cfg.Budget, s.Budget},
		{"retry.initial_backoff", ml.Retry.InitialBackoff, sml.Retry.InitialBackoff},
		{"retry.jitter_amount", ml.Retry.JitterAmount, sml.Retry.JitterAmount},
		{"retry.per_attempt_timeout", ml.Retry.PerAttemptTimeout, sml.Retry.PerAttemptTimeout},
		{"retry.throttle.window", ml.Retry.Throttle.Window, sml.Retry.Throttle.Window},
		{"breaker.initial_recovery_timeout", ml.Breaker.InitialRecoveryTimeout, sml.Breaker.InitialRecoveryTimeout},
		{"breaker.recovery_timeout", ml.Breaker.RecoveryTimeout, sml.Breaker.RecoveryTimeout},
		{"hedge.delay", ml.Hedge.Delay, sml.Hedge.Delay},
		{"bulkhead.max_wait", ml.Bulkhead.MaxWait, sml.Bulkhead.MaxWait},
		{"adaptive_throttle.window", ml.AdaptiveThrottle.Window, sml.AdaptiveThrottle.Window},
		{"deadline.default", ml.Deadline.Default, sml.Deadline.Default},
	}
	for _, c := range checks {
		if c.full == 0 || c.got != c.full/4 {
			t.Errorf("%s: %v scaled by 1/4 is %v, want %v (and non-zero)", c.name, c.full, c.got, c.full/4)
		}
	}
	if got, want := sml.Retry.Throttle.MinPerSecond, 4*ml.Retry.Throttle.MinPerSecond; got != want || got == 0 {
		t.Errorf("retry.throttle.min_per_second scaled by 4 is %v, want %v", got, want)
	}
	if sml.Retry.MaxAttempts != ml.Retry.MaxAttempts || sml.Retry.Throttle.Ratio != ml.Retry.Throttle.Ratio ||
		sml.Breaker.ConsecutiveFailures != ml.Breaker.ConsecutiveFailures {
		t.Errorf("counts and ratios changed: %+v", sml.Retry)
	}
	if cfg.Profiles["ml"].Retry.InitialBackoff != time.Second {
		t.Errorf("the original config was changed: %v", cfg.Profiles["ml"].Retry.InitialBackoff)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("scaled built-ins do not validate: %v", err)
	}
}

// brownoutHarness is the built-in profiles (merged with yaml) scaled by timeScale, against
// stubs with faults (durations scaled), warmed up first: 40 verifications without faults
// connect to the stubs and let hedging learn their latency, then the faults start. The
// machine's own overheads (connecting, -race, a loaded CPU) are not scaled down with the
// rest; a cold start would have them look like latency spikes to hedging, whose hedges draw
// on the retry budget.
func brownoutHarness(t *testing.T, yaml string, faults stub.Faults) *harness {
	t.Helper()
	return scaledHarness(t, yaml, faults, timeScale)
}

// scaledHarness is brownoutHarness at the time scale k.
func scaledHarness(t *testing.T, yaml string, faults stub.Faults, k float64, extra ...observe.Sink) *harness {
	t.Helper()
	cfg, _, err := config.Parse("e2e.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	faults = scaleFaults(faults, k)
	h := newHarnessConfig(t, scaleConfig(cfg, k), stub.Faults{Latency: faults.Latency}, 0, nil, extra...)
	kyc.Batch{N: 40, Concurrency: 8, Seed: 1}.Run(context.Background(), h.v)
	for _, s := range h.stubs {
		if err := s.SetFaults(faults); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func unavailable(f float64) stub.Faults {
	return stub.Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: f}, Latency: 20 * time.Millisecond}
}

// outcome is what a batch of the brownout tests produced.
type outcome struct {
	n, decided, failed, shed int
	unreadable               int            // verifications rejected, DOCUMENT_UNREADABLE among the reasons
	outOfTime                int            // failed verifications whose failed steps all ended with DEADLINE
	reasons                  map[string]int // failed steps by "CODE REASON"
	maxElapsed               time.Duration
	stats                    map[string]kyc.ServiceStats
	reached                  map[string]int // requests the stubs saw, by service key
}

func (o outcome) String() string {
	return fmt.Sprintf("%d of %d decided, %d failed, %d shed, max %v, failed steps %v, services %+v",
		o.decided, o.n, o.failed, o.shed, o.maxElapsed.Round(time.Millisecond), o.reasons, o.stats)
}

func (o outcome) breakerOpens() int64 {
	var n int64
	for _, s := range o.stats {
		n += s.BreakerOpens
	}
	return n
}

// runBatch runs b through h and counts what happened (the suite's events and the stubs'
// requests from the start of b on).
func runBatch(t *testing.T, h *harness, b kyc.Batch) outcome {
	t.Helper()
	before, reachedBefore := h.counters.Snapshot(), map[string]int{}
	for st, method := range methods {
		reachedBefore[kyc.ServiceKeys[stepService[st]]] = requestsTotal(h.stubFor(st), method)
	}
	res := b.RunResult(context.Background(), h.v)
	o := outcome{n: b.N, reasons: map[string]int{}, stats: h.counters.Snapshot(), reached: map[string]int{}}
	for k, s := range o.stats {
		p := before[k]
		o.stats[k] = kyc.ServiceStats{Calls: s.Calls - p.Calls, Attempts: s.Attempts - p.Attempts,
			Retries: s.Retries - p.Retries, BreakerOpens: s.BreakerOpens - p.BreakerOpens,
			Rejections: s.Rejections - p.Rejections, Hedges: s.Hedges - p.Hedges}
	}
	for i, a := range res.Arrivals {
		switch a {
		case kyc.ArrivalShed:
			o.shed++
			continue
		case kyc.ArrivalDone:
		default:
			t.Fatalf("arrival %d: %v", i, a)
		}
		r := res.Responses[i]
		o.maxElapsed = max(o.maxElapsed, kyc.Elapsed(r))
		if r.GetDecision() == kycv1.Decision_DECISION_FAILED {
			o.failed++
			outOfTime := true
			for _, st := range r.GetSteps() {
				if st.GetStatus() == kycv1.StepStatus_STEP_STATUS_FAILED {
					o.reasons[strings.TrimSpace(st.GetCode()+" "+st.GetReason())]++
					outOfTime = outOfTime && st.GetReason() == "DEADLINE"
				}
			}
			if outOfTime {
				o.outOfTime++
			}
			continue
		}
		o.decided++
		if r.GetDecision() == kycv1.Decision_DECISION_REJECTED &&
			slices.Contains(r.GetRejectionReasons(), stub.ReasonDocumentUnreadable) {
			o.unreadable++
		}
	}
	for st, method := range methods {
		k := kyc.ServiceKeys[stepService[st]]
		o.reached[k] = requestsTotal(h.stubFor(st), method) - reachedBefore[k]
	}
	return o
}

// idealDecided is the probability that a genuine verification is decided when every attempt
// the built-in profiles allow runs (ml 4 per call, OCR 4), each failing independently with
// probability f: the ceiling of issue 15's goal, (1-F⁴)²(1-F³) with the reference's 3 OCR
// attempts.
func idealDecided(t *testing.T, f float64) float64 {
	t.Helper()
	p := 1.0
	for _, svc := range []string{svcLiveness, svcFaceMatch, svcOCR} {
		p *= 1 - math.Pow(f, float64(config.Builtin().ResolveService(svc).Retry.MaxAttempts))
	}
	return p
}

// maxFailures is the smallest k such that a Binomial(n, q) count exceeds k with probability at
// most alpha.
func maxFailures(n int, q, alpha float64) int {
	tail := 1.0 // P(X > k-1) = P(X >= k)
	for k := 0; k <= n; k++ {
		lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
		pk := math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(q) + float64(n-k)*math.Log1p(-q))
		tail -= pk // now P(X > k)
		if tail <= alpha {
			return k
		}
	}
	return n
}

// TestBrownoutIsRetriedThrough (issue 15): at 20% and 30% of fast Unavailable failures, 32
// verifications in flight, the built-in profiles decide as many verifications as the attempts
// allow — (1-F⁴)³ of them, 99.5% and 97.6% — less sampling noise. The verifications that fail
// are binomial, n·q ± √(n·q·(1-q)) with q = 1 - (1-F⁴)³ (7.3 ± 2.7 of 300 at F = 0.3, 1.5 ±
// 1.2 at 0.2), a skewed count when q is small, so the test allows the failures that a binomial
// exceeds with probability at most 1e-5 (maxFailures: 21 at F = 0.3, 9 at 0.2), a false alarm
// once in 100 000 runs if the policies let every attempt run (before issue 15, 59-93% and
// 95-97% failed). No breaker opens and no call is refused locally (budget, throttle,
// breaker): a brownout is retried in full. Every verification ends within the budget (with
// a starved machine's slack).
func TestBrownoutIsRetriedThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	for _, f := range []float64{0.2, 0.3} {
		t.Run(fmt.Sprintf("F=%g", f), func(t *testing.T) {
			const n = 300
			h := brownoutHarness(t, brownoutConfig, unavailable(f))
			o := runBatch(t, h, kyc.Batch{N: n, Concurrency: 32, Seed: 7})
			t.Logf("%v", o)
			// A verification whose failed steps all ran out of time (DEADLINE) failed because
			// a starved machine (-race, load averages of 30-47 measured) could not run its
			// calls within the budget, not because a policy gave up: those are counted apart,
			// and at most 5% of them are accepted.
			p := idealDecided(t, f)
			if limit := maxFailures(n, 1-p, 1e-5); n-o.decided-o.outOfTime > limit {
				t.Errorf("%d of %d decided (%d out of time), want at least %d less those (ideal %.1f%%)",
					o.decided, n, o.outOfTime, n-limit, 100*p)
			}
			if o.outOfTime > n/20 {
				t.Errorf("%d of %d verifications ran out of time, want at most %d", o.outOfTime, n, n/20)
			}
			if opens := o.breakerOpens(); opens != 0 {
				t.Errorf("%d breaker openings in a brownout, want 0", opens)
			}
			for k, s := range o.stats {
				if s.Rejections != 0 {
					t.Errorf("%s: %d attempts refused locally, want 0 (failed steps: %v)", k, s.Rejections, o.reasons)
				}
			}
			// A step ends with MAX_ATTEMPTS when every attempt ran, and with DEADLINE when a
			// starved machine (-race, a load average of 30) made the calls outlast the budget;
			// never because the budget or a breaker refused a retry.
			for reason, c := range o.reasons {
				if strings.HasSuffix(reason, "RETRY_BUDGET") || strings.HasSuffix(reason, "CIRCUIT_OPEN") ||
					strings.HasSuffix(reason, "ADAPTIVE_THROTTLE") {
					t.Errorf("%d steps failed with %s, want none refused locally", c, reason)
				}
			}
			// The budget bounds every verification (its context's deadline); a starved process
			// notices the deadline late, by up to half a second measured, so the bound checked
			// is 1.5 budgets: what a schedule that ignored the budget would overrun.
			budget := time.Duration(float64(config.DefaultBudget) / timeScale)
			if o.maxElapsed > budget*3/2 {
				t.Errorf("slowest verification %v, want within the budget %v (1.5x allowed for a starved machine)", o.maxElapsed, budget)
			}
		})
	}
}

// TestOutageFailsFast (issue 15): with every call failing, the breakers open and the services
// see at most 1.1 requests per call: retries and hedges stop as the evidence comes in.
func TestOutageFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	const n = 300
	h := brownoutHarness(t, brownoutConfig, unavailable(1))
	o := runBatch(t, h, kyc.Batch{N: n, Concurrency: 32, Seed: 7})
	t.Logf("%v; reached %v", o, o.reached)
	if o.decided != 0 {
		t.Errorf("%d verifications decided against services that fail every call", o.decided)
	}
	for k, s := range o.stats {
		if s.BreakerOpens == 0 {
			t.Errorf("%s: breaker never opened", k)
		}
		if perCall := float64(o.reached[k]) / float64(s.Calls); s.Calls == 0 || perCall > 1.1 {
			t.Errorf("%s: %d requests reached the stub for %d calls (%.2f per call), want at most 1.1",
				k, o.reached[k], s.Calls, perCall)
		}
	}
}

// TestShortOutageCostsItsLength (issue 15): open-loop arrivals, a 5 s outage of every service
// starting 3 s in: the verifications lost (failed or shed), divided by the arrival rate, are
// the seconds of arrivals the outage cost. The breakers trip after 20 failures in a row and
// probe 0.75 s after the trip, then every second, so a 5 s outage costs the trip's delay, its
// length and under 1 s more; the goal is at most 7 s. The count depends on when the probes fall, not on how fast
// the machine runs the calls. It runs at full time scale, 25 arrivals per second (300 over
// 12 s): the 50 per second, or a time scale of 2, asked more CPU than a -race binary
// gets on a loaded 2-core machine next to another — starved, it fired timers seconds late and
// held calls past their deadlines (10-11 s "lost", breakers opening 6 s after the outage
// began). At 25 per second the trip comes about 0.3 s later than at 50 (5.6 s lost alone, on
// a machine loaded by two other test runs; brownout.md measures the 50 per second).
func TestShortOutageCostsItsLength(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	const (
		rate    = 25.0 // arrivals per second
		arrival = 12 * time.Second
		at      = 3 * time.Second
		outage  = 5 * time.Second
	)
	// The breakers' transitions, logged when the test fails.
	var (
		mu          sync.Mutex
		start       time.Time
		transitions []string
	)
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind != observe.BreakerStateChanged {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !start.IsZero() {
			transitions = append(transitions, fmt.Sprintf("%.2fs %s %s→%s (%s, %v)",
				time.Since(start).Seconds(), kyc.ServiceKeys[e.Service], e.From, e.To, e.Reason, e.Delay))
		}
	})
	h := scaledHarness(t, outageTestConfig, unavailable(0), 1, sink)
	n := int(rate * arrival.Seconds())
	mu.Lock()
	start = time.Now()
	mu.Unlock()
	defer func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("breaker transitions (the outage from %v to %v):\n%s", at, at+outage, strings.Join(transitions, "\n"))
		}
	}()
	timer := time.AfterFunc(at, func() {
		for _, s := range h.stubs {
			s.OutageFor(outage)
		}
	})
	defer timer.Stop()
	o := runBatch(t, h, kyc.Batch{N: n, Rate: rate, Seed: 7})
	lost := float64(o.failed+o.shed) / rate
	t.Logf("%v; %.2fs of arrivals lost", o, lost)
	if lost > 7 {
		t.Errorf("a %v outage cost %.2fs of arrivals (%d failed, %d shed of %d), want at most 7s",
			outage, lost, o.failed, o.shed, n)
	}
	if lost < outage.Seconds()*0.8 {
		t.Errorf("a %v outage cost only %.2fs of arrivals: was the outage injected?", outage, lost)
	}
}

// TestBusinessErrorsNeitherRetriedNorCounted (issue 15): every applicant's document is
// unreadable, a business answer: every verification is rejected for it, OCR is called once per
// verification (no retry), and its breaker — which 20 failures in a row would open — stays
// closed.
func TestBusinessErrorsNeitherRetriedNorCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	const n = 200
	h := brownoutHarness(t, brownoutConfig, unavailable(0))
	o := runBatch(t, h, kyc.Batch{N: n, Concurrency: 32, Seed: 7, UnreadableRate: 1})
	t.Logf("%v; reached %v", o, o.reached)
	ocr := o.stats[kyc.ServiceKeys[svcOCR]]
	if o.decided != n {
		t.Errorf("%d of %d decided, want all (rejected)", o.decided, n)
	}
	// Without this the test would pass as well with no business answer at all: genuine
	// applicants are decided too, and make no retry.
	if o.unreadable != n {
		t.Errorf("%d of %d rejected for %s, want all", o.unreadable, n, stub.ReasonDocumentUnreadable)
	}
	if got := h.breakerState(svcOCR); got != "closed" {
		t.Errorf("OCR breaker %s after %d business answers, want closed", got, n)
	}
	if ocr.Retries != 0 || ocr.BreakerOpens != 0 {
		t.Errorf("ocr: %d retries and %d breaker openings for business answers, want none", ocr.Retries, ocr.BreakerOpens)
	}
	// A hedge the first answer cancels may never reach the stub.
	if got := o.reached[kyc.ServiceKeys[svcOCR]]; got < n || int64(got) > ocr.Calls+ocr.Hedges {
		t.Errorf("ocr stub saw %d requests for %d calls and %d hedges, want %d .. calls + hedges", got, ocr.Calls, ocr.Hedges, n)
	}
}

// TestHalfFailingIsNotAmplified (issue 15): at F = 0.5 a brownout is as much an overload as a
// fault, and the goal is at once to decide at least as many verifications as no policy at all
// and to send at most 2 attempts per call. With every policy off a genuine verification is
// decided with probability (1-F)³ = 12.5% (25 ± 4.7 of 200); the built-ins (39% in
// BENCHMARKS.md, the throttle and the budget shedding retries) must beat its mean by 4
// standard deviations, and the requests that reached each stub stay within 2.0 per call.
func TestHalfFailingIsNotAmplified(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	const (
		n = 200
		f = 0.5
	)
	h := brownoutHarness(t, brownoutConfig, unavailable(f))
	o := runBatch(t, h, kyc.Batch{N: n, Concurrency: 32, Seed: 7})
	t.Logf("%v; reached %v", o, o.reached)
	p := (1 - f) * (1 - f) * (1 - f) // every one of the three steps answered
	if floor := n*p + 4*math.Sqrt(n*p*(1-p)); float64(o.decided) < floor {
		t.Errorf("%d of %d decided, want at least %.1f (every policy off: %.1f on average)", o.decided, n, floor, n*p)
	}
	for k, s := range o.stats {
		if perCall := float64(o.reached[k]) / float64(s.Calls); s.Calls == 0 || perCall > 2.0 {
			t.Errorf("%s: %d requests reached the stub for %d calls (%.2f per call), want at most 2.0",
				k, o.reached[k], s.Calls, perCall)
		}
	}
}
