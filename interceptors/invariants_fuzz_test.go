package interceptors_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The suite's behaviour under arbitrary sequences of outcomes (FuzzSuiteInvariants): every
// byte string decodes into a profile and a sequence of calls, each a script of attempt
// outcomes; the calls run through a whole suite on a fake clock, one after another, then (if
// the input asks) the first few of them at once on a fresh suite, and after each call (and after all) the
// invariants a user relies on are checked:
//
//   - attempts ≤ the profile's max_attempts; ≤ n under retry.WithMax(n); 1 under
//     retry.Disable() or for a method that is not idempotent;
//   - an outcome that is never retried (a business error, the caller's cancel) is the call's
//     last attempt, and a call whose attempts were all business errors leaves a closed
//     breaker closed with its failures unchanged; no call adds more breaker failures than it
//     had attempts that failed (Unavailable, DeadlineExceeded, ResourceExhausted);
//   - a call takes at most the budget (8 s) of fake time, plus fuzzEpsilon;
//   - a call that returns reports one CallFinished whose Attempt is the requests its invoker
//     saw, and one AttemptFinished per request; a call whose invoker panicked, none
//     (observe.AttemptFinished: the panic goes on);
//   - no bulkhead holds a slot once the calls have ended (LevelInFlight), panics and
//     cancels included;
//   - no breaker is left half-open with its probe slots taken: a half-open breaker admits a
//     probe once the calls have ended;
//   - a token-bucket retry budget holds between 0 and its max_tokens.

// fuzzBudget is the configuration's budget; fuzzEpsilon what a call may overrun it by.
const (
	fuzzBudget  = 8 * time.Second
	fuzzEpsilon = time.Millisecond
)

// The two methods the fuzz calls: Compare is idempotent (its descriptor says
// NO_SIDE_EFFECTS), Verify is not.
const (
	fuzzIdem  = testkit.MethodCompare
	fuzzPlain = testkit.MethodVerify
)

var fuzzProfiles = []string{"ml", "fast", "ocr", "custom"}

// fuzzMaxAttempts is each profile's retry max_attempts; fuzzBucketMax the custom profile's
// token bucket.
var fuzzMaxAttempts = map[string]int{"ml": 4, "fast": 2, "ocr": 4, "custom": 3}

const fuzzBucketMax = 3

// fuzzConfigs parses, once, a configuration per profile that binds both fuzzed services to it.
var fuzzConfigs = sync.OnceValue(func() map[string]*config.Config {
	out := map[string]*config.Config{}
	for _, p := range fuzzProfiles {
		y := fmt.Sprintf(`
profiles:
  custom:
    retry:
      max_attempts: 3
      initial_backoff: 100ms
      max_backoff: 1s
      multiplier: 2
      jitter: full
      per_attempt_timeout: 1s
      throttle: {max_tokens: %d, token_ratio: 0.5}
    breaker:
      consecutive_failures: 3
      initial_recovery_timeout: 500ms
      recovery_timeout: 2s
      half_open_max_calls: 2
    bulkhead: {max_concurrent: 2}
    rate_limit: {rate: 1000, burst: 50}
services:
  kyc.v1.FaceMatchService: {profile: %s}
  kyc.v1.KYCService: {profile: %s}
`, fuzzBucketMax, p, p)
		cfg, _, err := config.Parse("fuzz.yaml", []byte(y))
		if err != nil {
			panic(err)
		}
		out[p] = cfg
	}
	return out
})

// outcome is what one attempt does.
type outcome uint8

const (
	outOK outcome = iota
	outUnavailable
	outDeadline
	outExhausted
	outPushback // ResourceExhausted with a RetryInfo
	outInvalid  // business
	outNotFound // business
	outPanic
	outCancel // the caller cancels during the attempt
	outKinds
)

type fuzzAttempt struct {
	out  outcome
	took time.Duration // the attempt's fake time
	push time.Duration // outPushback's RetryInfo delay
}

type fuzzCall struct {
	method string
	opt    int // 0 none, 1 retry.Disable(), 2 retry.WithMax(max)
	max    int
	gap    time.Duration // fake time passed before the call
	script []fuzzAttempt
}

var (
	fuzzTook = [4]time.Duration{0, 20 * time.Millisecond, 700 * time.Millisecond, 4 * time.Second}
	fuzzGap  = [4]time.Duration{0, 300 * time.Millisecond, time.Second, 5 * time.Second}
	fuzzPush = [2]time.Duration{100 * time.Millisecond, 2 * time.Second}
)

// decodeFuzz reads any byte string as a profile and up to 24 calls.
// Bit 2 of the first byte asks for the concurrent variant too.
func decodeFuzz(data []byte) (profile string, concurrent bool, calls []fuzzCall) {
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	b, _ := next()
	profile, concurrent = fuzzProfiles[int(b)%len(fuzzProfiles)], b&4 != 0
	for len(calls) < 24 {
		h, ok := next()
		if !ok {
			break
		}
		c := fuzzCall{method: fuzzIdem, gap: fuzzGap[h>>6]}
		if h&1 == 1 {
			c.method = fuzzPlain
		}
		switch (h >> 1) & 3 {
		case 2:
			c.opt = 1
		case 3:
			c.opt, c.max = 2, 1+int(h>>3)%5
		}
		n, _ := next()
		for range 1 + int(n)%6 {
			o, _ := next()
			c.script = append(c.script, fuzzAttempt{
				out: outcome(o&15) % outKinds, took: fuzzTook[(o>>4)&3], push: fuzzPush[o>>7],
			})
		}
		calls = append(calls, c)
	}
	return profile, concurrent, calls
}

// autoClock is a fake clock whose channel timers (a backoff sleep, a limiter's or bulkhead's
// wait) move the time to their deadline when the waiting code takes their channel: a wait
// passes at once, in the waiting goroutine, with no other goroutine to drive the time.
type autoClock struct{ *clocktest.Fake }

func (c autoClock) NewTimer(d time.Duration) clock.Timer {
	return &autoTimer{Timer: c.Fake.NewTimer(d), f: c.Fake, at: c.Now().Add(d)}
}

type autoTimer struct {
	clock.Timer
	f  *clocktest.Fake
	at time.Time
}

func (t *autoTimer) C() <-chan time.Time {
	t.f.Set(t.at)
	return t.Timer.C()
}

func (t *autoTimer) Reset(d time.Duration) bool {
	t.at = t.f.Now().Add(d)
	return t.Timer.Reset(d)
}

// callRun is one call's invoker: it plays the script, then answers OK.
type callRun struct {
	c      fuzzCall
	clk    *clocktest.Fake
	cancel context.CancelFunc

	seen     []outcome // what each request the invoker saw ended with
	failures int       // requests answered Unavailable, DeadlineExceeded or ResourceExhausted
}

func (r *callRun) invoke(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	a := fuzzAttempt{}
	if i := len(r.seen); i < len(r.c.script) {
		a = r.c.script[i]
	}
	if a.took > 0 { // the attempt takes its time, or until its deadline
		at := r.clk.Now().Add(a.took)
		if dl, ok := ctx.Deadline(); ok && dl.Before(at) {
			at = dl
		}
		r.clk.Set(at)
	}
	if a.out == outPanic {
		r.seen = append(r.seen, outPanic)
		panic("fuzz: the invoker panics")
	}
	if ctx.Err() != nil { // the attempt's deadline passed while it ran
		r.seen = append(r.seen, outDeadline)
		r.failures++
		return status.FromContextError(ctx.Err()).Err()
	}
	r.seen = append(r.seen, a.out)
	switch a.out {
	case outUnavailable:
		r.failures++
		return status.Error(grpccodes.Unavailable, "down")
	case outDeadline:
		r.failures++
		return status.Error(grpccodes.DeadlineExceeded, "slow")
	case outExhausted:
		r.failures++
		return status.Error(grpccodes.ResourceExhausted, "overloaded")
	case outPushback:
		r.failures++
		return testkit.Throttled(a.push)
	case outInvalid:
		return status.Error(grpccodes.InvalidArgument, "bad request")
	case outNotFound:
		return status.Error(grpccodes.NotFound, "no such thing")
	case outCancel:
		r.cancel()
		return status.FromContextError(context.Canceled).Err()
	}
	return nil
}

// options are the call options of c: its retry option, and hedge.Disable() when attempts take
// time (a hedge fires in a goroutine of its own, which would make the run depend on the
// scheduler) or always (always).
func (c fuzzCall) options(always bool) []grpc.CallOption {
	var o []grpc.CallOption
	switch c.opt {
	case 1:
		o = append(o, retry.Disable())
	case 2:
		o = append(o, retry.WithMax(c.max))
	}
	timed := always
	for _, a := range c.script {
		timed = timed || a.took > 0
	}
	if timed {
		o = append(o, hedge.Disable())
	}
	return o
}

// maxAttempts is the most requests c may send under profile.
func (c fuzzCall) maxAttempts(profile string) int {
	switch {
	case c.opt == 1 || c.method == fuzzPlain:
		return 1
	case c.opt == 2:
		return c.max
	}
	return fuzzMaxAttempts[profile]
}

// call runs r's call through s, and reports whether it panicked.
func (r *callRun) call(s *interceptors.Suite, always bool) (panicked bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.cancel = cancel
	defer func() { panicked = recover() != nil }()
	_ = s.Unary()(ctx, r.c.method, nil, nil, nil, r.invoke, r.c.options(always)...)
	return false
}

func newFuzzSuite(t *testing.T, profile string, clk clock.Clock, rec observe.Sink) *interceptors.Suite {
	t.Helper()
	s, err := interceptors.New(fuzzConfigs()[profile], interceptors.WithClock(clk), interceptors.WithObserver(rec),
		interceptors.WithRand(func() float64 { return 0.5 }), interceptors.WithBreakerRegistry(new(breaker.Registry)),
		interceptors.WithLimiterRegistry(new(ratelimit.Registry)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serviceOf(method string) string { return method[1:strings.LastIndexByte(method, '/')] }

func breakerOf(s *interceptors.Suite, method string) *breaker.Breaker {
	b, _ := s.Breakers().Lookup(serviceOf(method))
	return b
}

// checkAtRest checks what holds once no call is in flight: no bulkhead slot held, no
// half-open breaker with its probe slots taken, a token bucket within its bounds.
func checkAtRest(t *testing.T, s *interceptors.Suite, profile, when string) {
	t.Helper()
	var held []observe.Level // reported once Levels has returned: a source may yield under its lock
	for l := range s.Levels {
		if l.Kind == observe.LevelInFlight && l.Value != 0 {
			held = append(held, l)
		}
	}
	for _, l := range held {
		t.Fatalf("%s: bulkhead of %s%s holds %v slots, want 0", when, l.Service, l.Method, l.Value)
	}
	var stuck error // reported once Each, which holds the registry's lock, has returned
	s.Breakers().Each(func(name string, b *breaker.Breaker) {
		if stuck != nil || b.State() != breaker.HalfOpen {
			return
		}
		p, err := b.Allow()
		if err != nil {
			stuck = fmt.Errorf("breaker %s is half-open and refuses a probe with no call in flight: %w", name, err)
			return
		}
		p.Record(codes.Canceled) // gives the slot back, deciding nothing
	})
	if stuck != nil {
		t.Fatalf("%s: %v", when, stuck)
	}
	if profile != "custom" {
		return // a ratio budget's Tokens is at least 0 by construction
	}
	for _, m := range []string{fuzzIdem, fuzzPlain} {
		p, _ := interceptors.Object(s, "retry", serviceOf(m)).(*retry.Policy)
		if p == nil {
			continue // no call of the service yet
		}
		if b := p.Budget(serviceOf(m)); b != nil {
			if tok := b.Tokens(); tok < 0 || tok > fuzzBucketMax {
				t.Fatalf("%s: retry budget of %s holds %v tokens, want within [0, %d]", when, serviceOf(m), tok, fuzzBucketMax)
			}
		}
	}
}

func FuzzSuiteInvariants(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		profile, concurrent, calls := decodeFuzz(data)
		runSequential(t, profile, calls)
		if concurrent {
			runConcurrent(t, profile, calls)
		}
	})
}

func runSequential(t *testing.T, profile string, calls []fuzzCall) {
	fake := clocktest.New(time.Time{})
	rec := &testkit.Recorder{}
	s := newFuzzSuite(t, profile, autoClock{fake}, rec)
	defer func() { _ = s.Close() }()
	for i, c := range calls {
		fake.Advance(c.gap)
		when := fmt.Sprintf("call %d (%s %s)", i, profile, c.method)
		var pre breaker.Stats
		b := breakerOf(s, c.method)
		if b != nil {
			pre = b.Stats()
		}
		rec.Reset()
		r := &callRun{c: c, clk: fake}
		start := fake.Now()
		panicked := r.call(s, false)
		took := fake.Now().Sub(start)

		if max := c.maxAttempts(profile); len(r.seen) > max {
			t.Fatalf("%s: %d attempts %v, want at most %d", when, len(r.seen), r.seen, max)
		}
		business := len(r.seen) > 0
		for j, o := range r.seen {
			final := o == outInvalid || o == outNotFound || o == outCancel || o == outPanic
			if final && j != len(r.seen)-1 {
				t.Fatalf("%s: attempt %d ended with outcome %d, never retried, yet the call went on: %v", when, j+1, o, r.seen)
			}
			business = business && (o == outInvalid || o == outNotFound)
		}
		if b == nil {
			b = breakerOf(s, c.method)
		}
		if b != nil {
			post := b.Stats()
			if d := post.Failures - pre.Failures; d > uint64(r.failures) {
				t.Fatalf("%s: breaker failures +%d, from %d failed attempts %v", when, d, r.failures, r.seen)
			}
			if business && pre.State == breaker.Closed && post.State != breaker.Closed {
				t.Fatalf("%s: business errors %v moved the breaker from closed to %v", when, r.seen, post.State)
			}
		}
		if took > fuzzBudget+fuzzEpsilon {
			t.Fatalf("%s: the call took %v of fake time, want at most %v", when, took, fuzzBudget+fuzzEpsilon)
		}
		// A call's attempts are the entries to the steps below the retry loop: a request
		// sent, or an attempt a policy there (an open breaker) refused (package interceptors'
		// doc, # Events).
		finished, attempts := rec.Events(observe.CallFinished), rec.Count(observe.AttemptFinished)
		switch {
		case panicked && len(finished) != 0:
			t.Fatalf("%s: the invoker panicked, yet %d CallFinished", when, len(finished))
		case panicked:
			if attempts != len(r.seen)-1 {
				t.Fatalf("%s: %d AttemptFinished, want %d: one per request but the one that panicked (%v)", when, attempts, len(r.seen)-1, r.seen)
			}
		case len(finished) != 1:
			t.Fatalf("%s: %d CallFinished, want 1", when, len(finished))
		case finished[0].Attempt < len(r.seen) || finished[0].Attempt > c.maxAttempts(profile):
			t.Fatalf("%s: CallFinished counts %d attempts, the invoker saw %d, the most allowed is %d", when, finished[0].Attempt, len(r.seen), c.maxAttempts(profile))
		case attempts != finished[0].Attempt:
			t.Fatalf("%s: %d AttemptFinished, CallFinished counts %d attempts (requests %v)", when, attempts, finished[0].Attempt, r.seen)
		}
		checkAtRest(t, s, profile, when)
	}
}

// runConcurrent runs the first four calls at once on a fresh suite, hedging off, and checks
// what holds under any interleaving: each call's attempt bound and, once all have ended,
// the suite at rest and one CallFinished per call that returned.
func runConcurrent(t *testing.T, profile string, calls []fuzzCall) {
	calls = calls[:min(len(calls), 4)]
	if len(calls) < 2 {
		return
	}
	fake := clocktest.New(time.Time{})
	rec := &testkit.Recorder{}
	s := newFuzzSuite(t, profile, autoClock{fake}, rec)
	defer func() { _ = s.Close() }()
	runs := make([]*callRun, len(calls))
	panicked := make([]bool, len(calls))
	var wg sync.WaitGroup
	var mu sync.Mutex // the fake clock is shared: each run's own fields are its goroutine's
	for i, c := range calls {
		runs[i] = &callRun{c: c, clk: fake}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := runs[i].call(s, true)
			mu.Lock()
			panicked[i] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	returned := 0
	for i, r := range runs {
		if max := r.c.maxAttempts(profile); len(r.seen) > max {
			t.Fatalf("concurrent call %d (%s %s): %d attempts %v, want at most %d", i, profile, r.c.method, len(r.seen), r.seen, max)
		}
		if !panicked[i] {
			returned++
		}
	}
	if got := rec.Count(observe.CallFinished); got != returned {
		t.Fatalf("concurrent calls (%s): %d CallFinished for %d calls that returned", profile, got, returned)
	}
	checkAtRest(t, s, profile, "concurrent calls ("+profile+")")
}

// fuzzSeeds are the corpus that runs as a test: each profile with outages, brownouts,
// business errors, panics, cancels, pushback and per-call options.
var fuzzSeeds = [][]byte{
	{0},
	// ml: Unavailable ×3 then OK; a business error; a panic; a cancel.
	{0, 0x00, 3, 1, 1, 1, 0, 0x00, 0, 5, 0x00, 0, 7, 0x00, 0, 8},
	// fast: timed attempts that outlive the per-attempt timeout, then pushback.
	{1, 0x00, 2, 0x21, 0x21, 0x00, 1, 0x84, 0x04},
	// ocr: WithMax(5) over four Unavailable; Disable over Unavailable; the plain method.
	{2, 0x26, 4, 1, 1, 1, 1, 0x04, 0, 1, 0x01, 2, 1, 1},
	// custom: trip the breaker, wait it half-open, then a probe that panics and one that succeeds.
	{3, 0x00, 2, 1, 1, 1, 0x00, 2, 1, 1, 1, 0x80, 0, 7, 0x40, 0, 0, 0x80, 0, 0},
	// custom: the breaker tripped, then a half-open probe the caller cancels.
	{3, 0x00, 2, 1, 1, 1, 0x80, 0, 8, 0x00, 0, 0},
	// custom: the retry budget drained by failing calls.
	{3, 0x00, 2, 1, 1, 1, 0x00, 2, 1, 1, 1, 0x00, 2, 1, 1, 1, 0x00, 2, 1, 1, 1},
	// custom: the plain method's failures drain the token bucket, its successes refill it,
	// with never three failures in a row to trip the breaker.
	{3, 0x01, 0, 0, 0x01, 0, 1, 0x01, 0, 1, 0x01, 0, 0, 0x01, 0, 1, 0x01, 0, 1, 0x01, 0, 0, 0x01, 0, 1},
	// custom: business errors on a closed breaker, and a cancel in a timed attempt.
	{3, 0x00, 0, 6, 0x00, 0, 5, 0x00, 1, 0x18, 0},
	// The concurrent variant: ml, fast and custom with failures, a panic and a cancel.
	{4, 0x00, 3, 1, 1, 1, 1, 0x00, 0, 7, 0x00, 1, 0x21, 8, 0x06, 2, 5, 1, 1},
	{5, 0x00, 1, 0x21, 0x21, 0x00, 0, 7, 0x00, 0, 8, 0x00, 0, 0},
	{7, 0x00, 2, 1, 1, 1, 0x00, 2, 1, 1, 1, 0x00, 0, 7, 0x00, 1, 0x21, 0x21},
	// ml: the plain method failing, long attempts to the budget.
	{0, 0x01, 3, 1, 1, 1, 0x00, 5, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32},
	// ml: the idempotent method's attempts each running to their 3 s timeout, Unavailable
	// between: the schedule stops at the budget.
	{0, 0x00, 3, 0x31, 0x31, 0x31, 0x31, 0x00, 5, 0x21, 0x31, 0x21, 0x31, 0x21, 0x31},
}
