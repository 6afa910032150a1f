package stress

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// The run's size and seed: go test ./stress -run Stress -stress.seed 7 -stress.calls 3000
// -stress.workers 48 runs a longer one by hand.
var (
	seedFlag    = flag.Uint64("stress.seed", 1, "seed of the stress run's choices")
	callsFlag   = flag.Int("stress.calls", 3000, "calls the stress run makes")
	workersFlag = flag.Int("stress.workers", 32, "callers of the stress run at once")
	marginFlag  = flag.Duration("stress.margin", 3*time.Second, "what a call may outlast its deadline by (a busy machine's scheduling: under -race at a load of 10 on 2 cores, whole-process stalls of 2-3s were seen)")
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// allOn is a profile with every policy on, its times short so that a run sees many trips,
// probes, retries and hedges; allOnB changes every section's numbers, so that a reload
// between them replaces every object, and flips per_attempt_cut: allon-a cuts every attempt
// at its per-attempt timeout, allon-b (200ms, often reached) only one that a later attempt
// of the method answered in under half of it has overtaken, the rest running on to the
// call's end. The streaming service has no descriptor that says its methods are safe to
// repeat: its retry and hedge say they are (idempotent).
const allOnYAML = `
budget: %[1]s
profiles:
  allon:
    retry:
      max_attempts: %[2]d
      initial_backoff: 20ms
      max_backoff: 200ms
      multiplier: 2
      jitter: full
      per_attempt_timeout: %[3]s
      per_attempt_cut: %[11]s
      throttle: {ratio: %[4]s, min_per_second: 2, window: 2s}
    hedge:
      max_attempts: %[5]d
      delay: 60ms
      min_delay: 20ms
      max_delay: 300ms
      window: 50
      min_samples: 10
    breaker:
      consecutive_failures: %[6]d
      initial_recovery_timeout: 100ms
      recovery_multiplier: 2
      recovery_timeout: 400ms
      half_open_max_calls: 2
      half_open_max_wait: 1s
    adaptive_throttle: {k: 2, window: 5s, min_requests: 20}
    bulkhead:
      max_concurrent: %[7]d
      max_wait: 80ms
      adaptive: {algorithm: %[8]s, min_limit: 2, initial_limit: %[7]d}
    rate_limit: {rate: 1000, burst: %[9]d, max_wait: 40ms, shared: %[10]s}
    deadline: {default: 1500ms, max: 2s}
    classifier:
      reasons:
        DOCUMENT_UNREADABLE: business
        FACE_NOT_DETECTED: business
services:
  kyc.v1.LivenessService: {profile: allon}
  kyc.v1.FaceMatchService:
    profile: allon
    fallback: {reply_json: '{"similarity": 0.01}', on_codes: [UNAVAILABLE]}
  kyc.v1.OCRService: {profile: allon}
  stress.v1.StreamService:
    profile: allon
    retry: {idempotent: true}
    hedge: {idempotent: true}
`

type namedConfig struct {
	name string
	cfg  *config.Config
}

func stressConfigs(t *testing.T) []namedConfig {
	t.Helper()
	out := []namedConfig{{"builtin", config.Builtin()}}
	for _, v := range []struct {
		name                string
		budget              string
		retries             int
		perAttempt, ratio   string
		hedges, trip, slots int
		algorithm           string
		burst               int
		cut                 string
	}{
		{"allon-a", "3s", 3, "300ms", "0.3", 2, 5, 8, "aimd", 30, "always"},
		{"allon-b", "2s", 4, "200ms", "0.5", 3, 8, 4, "gradient", 10, "overtaken"},
	} {
		y := fmt.Sprintf(allOnYAML, v.budget, v.retries, v.perAttempt, v.ratio, v.hedges, v.trip, v.slots, v.algorithm, v.burst, v.name, v.cut)
		cfg, _, err := config.Parse(v.name+".yaml", []byte(y))
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if got := cfg.ResolveService("kyc.v1.OCRService").Retry.PerAttemptCut; string(got) != v.cut {
			t.Fatalf("%s: per_attempt_cut %q parsed as %q", v.name, v.cut, got)
		}
		out = append(out, namedConfig{v.name, cfg})
	}
	return out
}

// bounds are what any configuration of the run allows a service, the largest of each.
type bounds struct {
	budget  time.Duration // the longest a call may take with no deadline of its own
	retries int           // retry max_attempts
	hedges  int           // hedge max_attempts (1 without hedging)
	ratio   float64       // retry budget ratio
	floor   float64       // retry budget min_per_second × window
	window  time.Duration // the shortest retry budget window
	// shortest is the shortest time a configuration gives a call with no deadline of its
	// own, or a longer one: the budget, deadline.default and deadline.max.
	shortest time.Duration
}

func boundsOf(cfgs []namedConfig, service string) bounds {
	b := bounds{retries: 1, hedges: 1, window: time.Hour, shortest: time.Hour}
	for _, nc := range cfgs {
		p := nc.cfg.ResolveService(service)
		b.budget = max(b.budget, nc.cfg.Budget)
		for _, d := range []time.Duration{nc.cfg.Budget, deadlineOf(p.Deadline, false), deadlineOf(p.Deadline, true)} {
			if d > 0 {
				b.shortest = min(b.shortest, d)
			}
		}
		if p.Retry != nil {
			b.retries = max(b.retries, p.Retry.MaxAttempts)
			th := p.Retry.Throttle
			b.ratio = max(b.ratio, th.Ratio)
			b.floor = max(b.floor, th.MinPerSecond*th.Window.Seconds())
			if th.Window > 0 {
				b.window = min(b.window, th.Window)
			}
		}
		if p.Hedge != nil {
			b.hedges = max(b.hedges, p.Hedge.MaxAttempts)
		}
	}
	return b
}

// deadlineOf is a deadline section's default (or max), 0 without one.
func deadlineOf(c *deadline.Config, maxOf bool) time.Duration {
	switch {
	case c == nil:
		return 0
	case maxOf:
		return c.Max
	}
	return c.Default
}

// lockedRand is one seeded generator for every goroutine of the run.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) Dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(l.Float64()*float64(hi-lo))
}

// callSink keeps one call's events.
type callSink struct {
	mu     sync.Mutex
	events []observe.Event
}

func (c *callSink) Observe(e observe.Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

func (c *callSink) snapshot() []observe.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]observe.Event(nil), c.events...)
}

// runSink counts the suite's events per service.
type runSink struct {
	mu       sync.Mutex
	finished map[string]int // CallFinished
	extra    map[string]int // requests after a call's first that a policy did not refuse
}

func (r *runSink) Observe(e observe.Event) {
	switch e.Kind {
	case observe.CallFinished:
		r.mu.Lock()
		r.finished[e.Service]++
		r.mu.Unlock()
	case observe.AttemptFinished:
		if e.Attempt > 1 && e.Class != codes.Rejected {
			r.mu.Lock()
			r.extra[e.Service]++
			r.mu.Unlock()
		}
	}
}

type service struct {
	name   string // full gRPC service name
	method string
	stream bool // a stream: client, server or bidi
	st     backend
	conn   *grpc.ClientConn
}

// callResult is what a caller saw of one call.
type callResult struct {
	svc      *service
	id       string
	business bool // its input draws a business error from the service
	deadline time.Duration
	sendGap  time.Duration
	// readDelay, for a Watch call of a slow reader: how long it waited before its first
	// RecvMsg, its replies spaced by replyGap; read: the replies it read.
	readDelay, replyGap time.Duration
	read                int
	canceled            bool
	ctxDone             bool // the call's context had ended when it returned
	// deadlinePassed: the call's own deadline had passed when it returned, whether or not
	// its context's timer had run yet to end it (on a busy machine it runs late, while gRPC,
	// which reads the clock, already reports DeadlineExceeded).
	deadlinePassed bool
	took           time.Duration
	err            error
	events         []observe.Event
}

// TestStressInvariants drives -stress.calls calls, -stress.workers at a time, through one
// suite over three in-process stubs and a test-only streaming service (bufconn): unary
// FaceMatch and OCR calls, client-streaming Liveness calls, and server-streaming Watch and
// bidi Chat calls (streamsvc_test.go), some with business inputs, random deadlines, cancels
// at random times and slow sends. Meanwhile the services' faults (0-100% of Unavailable,
// Internal, ResourceExhausted with pushback, DeadlineExceeded; latency, spikes and
// slowdowns) and outages change at random, and the suite is reloaded between the built-in
// profiles and two profiles with every policy on (a fallback for FaceMatch, hedging of unary
// calls and streams, a shared local rate limiter with waits, the adaptive throttle, an
// adaptive bulkhead, per-attempt timeouts that cut always or only when overtaken), while an observer reads the suite's levels, directly and through a promobs
// scrape. The choices are seeded (-stress.seed); the interleaving is the scheduler's, so the
// invariants are those that hold whatever happened:
//
//   - every call returns within its deadline (its caller's, else the longest budget) plus
//     -stress.margin, and reports one CallFinished (none for a stream whose caller's context
//     ended between two of its sends: interceptors/doc.go, Events), each request one
//     AttemptFinished, at most max_attempts × the hedge's max_attempts of them and at most
//     max_attempts that are no hedge; the service saw no more than the call counted;
//   - no retry is scheduled after a business answer; a fallback's reply is the call's answer
//     and its CallFinished says OK, and no fallback replaces a business answer;
//   - a stream's caller gets each reply once and in order, whatever was retried or hedged; a
//     slow reader of Watch (its first read later than any per-attempt timeout, the service's
//     replies spaced so that its stream is open then) that read a reply loses the rest to no
//     DeadlineExceeded but its call's deadline;
//   - every level read during the run is sane: in-flight calls within a fixed bulkhead's
//     slots or an adaptive one's ceiling, an adaptive limit within its floor and ceiling, a
//     throttle's probability in [0, 1], a breaker state that is one, no scrape error;
//   - per service, the retries and hedges sent stay within ratio × calls plus the budget's
//     floor (min_per_second × window) for each window the run spans and each budget a
//     reload may have made, the largest of each over the configurations;
//   - at rest: no bulkhead slot held, every adaptive limit within its bounds, every
//     throttle's probability in [0, 1], a half-open breaker admits a probe, every shared
//     rate limiter's tokens within [0, burst], every breaker's Stats agreeing with its State,
//     its Levels and themselves;
//   - afterwards, 30 business errors per quiet service reach it once each, but for the
//     retries and hedges sent while an answer was on its way (a per-attempt timeout or the
//     hedging delay passed on a busy machine) and those the adaptive throttle refuses from
//     the run's failures (which reach nothing): none goes out after a business answer, and
//     they add no breaker failure; and no goroutine is left (TestMain's goleak).
//
// The stubs and grpc run on the real clock, so the suite does too: there is no fake clock
// whose timers could be checked.
func TestStressInvariants(t *testing.T) {
	seed := *seedFlag
	rng := &lockedRand{r: rand.New(rand.NewPCG(seed, 0x5354524553533535))}
	cfgs := stressConfigs(t)
	sink := &runSink{finished: map[string]int{}, extra: map[string]int{}}
	first := cfgs[rng.IntN(len(cfgs))]
	limiters, breakers := new(ratelimit.Registry), new(breaker.Registry)
	suite, err := interceptors.New(first.cfg, interceptors.WithObserver(sink),
		interceptors.WithRand((&lockedRand{r: rand.New(rand.NewPCG(seed, 1))}).Float64),
		interceptors.WithBreakerRegistry(breakers), interceptors.WithLimiterRegistry(limiters))
	if err != nil {
		t.Fatal(err)
	}

	// svcs are what a call picks from, backends the services (the streaming one serves two
	// of the methods).
	svcs := []*service{
		{name: "kyc.v1.LivenessService", method: stub.MethodCheck, stream: true},
		{name: "kyc.v1.FaceMatchService", method: stub.MethodCompare},
		{name: "kyc.v1.OCRService", method: stub.MethodExtract},
		{name: streamService, method: methodWatch, stream: true},
		{name: streamService, method: methodChat, stream: true},
	}
	dial := func(name string, lis *bufconn.Listener) *grpc.ClientConn {
		conn, err := grpc.NewClient("passthrough:///"+name, append(suite.DialOptions(),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))...)
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	var backends []*service
	for i, s := range svcs[:3] {
		lis := bufconn.Listen(1 << 20)
		st, err := stub.Start(context.Background(), stub.Config{
			Services: []string{stub.AllServices()[i]}, Seed: int64(seed) + int64(i),
			Faults: stub.DefaultMildFaults(), ScriptCapacity: 1 << 16, StopTimeout: 2 * time.Second,
		}, stub.WithListener(lis))
		if err != nil {
			t.Fatal(err)
		}
		s.st, s.conn = st, dial(s.name, lis)
		backends = append(backends, s)
	}
	ss, lis := startStreamBackend(seed)
	svcs[3].st, svcs[3].conn = ss, dial(streamService, lis)
	svcs[4].st, svcs[4].conn = ss, svcs[3].conn
	backends = append(backends, svcs[3])
	defer func() {
		for _, s := range backends {
			_ = s.conn.Close()
			s.st.Stop()
		}
		_ = suite.Close()
	}()

	// The observers: levels read while the calls run, as a scrape reads them.
	obsDone := make(chan struct{})
	obsStopped := observeLevels(t, suite, obsDone)

	// The chaos: the stubs' faults and outages, and the suite's configuration, changed at
	// random points until the callers are done.
	var reloads atomic.Int64
	done := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		tick := time.NewTimer(0)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			switch k := rng.IntN(10); {
			case k < 6:
				s := backends[rng.IntN(len(backends))]
				if err := s.st.SetFaults(randomFaults(rng)); err != nil {
					t.Errorf("SetFaults: %v", err)
				}
			case k < 8:
				s := backends[rng.IntN(len(backends))]
				if rng.IntN(2) == 0 {
					s.st.Up()
				} else {
					s.st.OutageFor(rng.Dur(50*time.Millisecond, 800*time.Millisecond))
				}
			default:
				nc := cfgs[rng.IntN(len(cfgs))]
				if err := suite.Reload(nc.cfg); err != nil {
					t.Errorf("Reload(%s): %v", nc.name, err)
				}
				reloads.Add(1)
			}
			tick.Reset(rng.Dur(20*time.Millisecond, 250*time.Millisecond))
		}
	}()

	start := time.Now()
	results := make([]callResult, *callsFlag)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < *workersFlag; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(results) {
					return
				}
				results[i] = oneCall(rng, svcs, i)
			}
		}()
	}
	wg.Wait()
	close(done)
	<-chaosDone
	close(obsDone)
	<-obsStopped
	elapsed := time.Since(start)

	// Per call: it returned within its deadline, one CallFinished, its attempts within the
	// configuration's bounds, a business answer never retried.
	calls, finished, outcomes := map[string]int{}, map[string]int{}, map[string]int{}
	served := 0
	for _, r := range results {
		for _, e := range r.events {
			if e.Kind == observe.FallbackServed {
				served++
			}
		}
		c, _ := statusOf(r.err)
		outcomes[c.String()]++
		calls[r.svc.name]++
		for _, e := range r.events {
			if e.Kind == observe.CallFinished {
				finished[r.svc.name]++
			}
		}
		b := boundsOf(cfgs, r.svc.name)
		checkCall(t, r, b, *marginFlag)
	}

	// Over the run: one CallFinished per call, and the retries and hedges made within what
	// the retry budgets allow.
	sink.mu.Lock()
	for _, s := range backends {
		if s.name == streamService {
			// Unlisted in the built-in configuration, its calls there go through the
			// overflow chain, whose events name the service "*".
			sink.finished[s.name] += sink.finished["*"]
			sink.extra[s.name] += sink.extra["*"]
		}
		if got := sink.finished[s.name]; got != finished[s.name] {
			t.Errorf("%s: the suite's sink got %d CallFinished, the calls' sinks %d (%d calls)", s.name, got, finished[s.name], calls[s.name])
		}
		b := boundsOf(cfgs, s.name)
		gens := 1 + float64(reloads.Load()) + math.Ceil(float64(elapsed)/float64(b.window))
		allowed := b.ratio*float64(calls[s.name]) + b.floor*gens
		if got := sink.extra[s.name]; float64(got) > allowed {
			t.Errorf("%s: %d retries and hedges made for %d calls, the retry budgets allow at most %.0f (ratio %v, floor %v per window, %v windows or budgets)",
				s.name, got, calls[s.name], allowed, b.ratio, b.floor, gens)
		}
	}
	sink.mu.Unlock()

	checkAtRest(t, suite, breakers, svcs)
	checkLimiters(t, cfgs, limiters)
	checkBreakers(t, breakers)

	// Business errors on a quiet service: each call one attempt, no breaker failure.
	for _, s := range backends {
		if err := s.st.SetFaults(stub.Faults{}); err != nil {
			t.Fatal(err)
		}
		s.st.Up()
	}
	breakers.Each(func(_ string, b *breaker.Breaker) { b.Reset() })
	for _, s := range svcs {
		b, _ := breakers.Lookup(s.name)
		var pre breaker.Stats
		if b != nil {
			pre = b.Stats()
		}
		reached, refused := 0, 0
		for j := range 30 {
			// The adaptive throttle may still refuse some, from the run's failures (its
			// window, 5s, spans most of the run): those reach nothing, and only those.
			r := oneBusinessCall(s, fmt.Sprintf("business-%d", j))
			n := s.st.Attempts(s.method, r.id)
			if late := afterBusiness(r.events); late != "" || n > 1+repeats(r.events) {
				t.Errorf("%s: business call %d reached the service %d times (%s): %v", s.name, j, n, late, kinds(r.events))
			}
			if n == 0 {
				if !throttled(r.events) {
					t.Errorf("%s: business call %d reached nothing, and no adaptive throttle refused it: %v (%v)", s.name, j, r.err, kinds(r.events))
				}
				refused++
			}
			if n >= 1 {
				reached++
				if st, _ := statusOf(r.err); st != grpccodes.InvalidArgument {
					t.Errorf("%s: business call %d: %v, want InvalidArgument", s.name, j, r.err)
				}
			}
		}
		if refused > 0 {
			t.Logf("%s: the adaptive throttle refused %d of 30 business calls, from the run's failures", s.name, refused)
		}
		if b == nil {
			b, _ = breakers.Lookup(s.name)
		}
		if b != nil {
			if post := b.Stats(); post.Failures != pre.Failures || post.State != breaker.Closed {
				t.Errorf("%s: 30 business errors took the breaker's failures from %d to %d, state %v", s.name, pre.Failures, post.Failures, post.State)
			}
		}
	}
	t.Logf("seed %d: %d calls in %v, %d reloads, per service %v, retries and hedges %v, outcomes %v, fallbacks served %d", seed, len(results), elapsed.Round(time.Millisecond), reloads.Load(), calls, sink.extra, outcomes, served)
}

func randomFaults(rng *lockedRand) stub.Faults {
	f := stub.Faults{Fail: map[grpccodes.Code]float64{}}
	// From healthy to down: the share of requests that fail, split among the codes.
	left := []float64{0, 0.02, 0.1, 0.3, 0.6, 1}[rng.IntN(6)]
	for _, c := range []grpccodes.Code{grpccodes.Unavailable, grpccodes.Internal, grpccodes.ResourceExhausted, grpccodes.DeadlineExceeded} {
		if rng.IntN(2) == 0 {
			continue
		}
		r := math.Round(rng.Float64()*left*100) / 100
		f.Fail[c] = r
		left -= r
	}
	f.Latency = rng.Dur(0, 40*time.Millisecond)
	if rng.IntN(6) == 0 {
		// A slowdown: every request past half the shortest per-attempt timeout (allon-b's
		// 200ms), most past it, so that no later attempt overtakes a slow one, and
		// per_attempt_cut: overtaken spares it where always cuts it.
		f.Latency = rng.Dur(120*time.Millisecond, 450*time.Millisecond)
	}
	if rng.IntN(2) == 0 {
		f.SpikeRate = math.Round(rng.Float64()*30) / 100
		f.Spike = rng.Dur(100*time.Millisecond, 1500*time.Millisecond)
	}
	if rng.IntN(2) == 0 {
		f.Pushback = rng.Dur(10*time.Millisecond, 400*time.Millisecond)
	}
	return f
}

// oneCall makes call i: a random service, input (one in seven a business error), deadline
// (none for one in five) and, for one in five, a cancel at a random time.
func oneCall(rng *lockedRand, svcs []*service, i int) callResult {
	s := svcs[rng.IntN(len(svcs))]
	r := callResult{svc: s, id: "call-" + strconv.Itoa(i), business: rng.IntN(7) == 0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if rng.IntN(5) != 0 {
		r.deadline = rng.Dur(20*time.Millisecond, 2500*time.Millisecond)
		ctx, cancel = context.WithTimeout(ctx, r.deadline)
		defer cancel()
	}
	if rng.IntN(5) == 0 {
		r.canceled = true
		stop := time.AfterFunc(rng.Dur(0, 400*time.Millisecond), cancel)
		defer stop.Stop()
	}
	cs := &callSink{}
	ctx = observe.WithCallSink(metadata.AppendToOutgoingContext(ctx, stub.MDRequestID, r.id), cs)
	sendGap := time.Duration(0)
	if rng.IntN(4) == 0 {
		sendGap = rng.Dur(time.Millisecond, 30*time.Millisecond) // a slow stream
	}
	r.sendGap = sendGap
	if s.method == methodWatch && rng.IntN(3) == 0 {
		// A slow reader: it reads later than the longest per-attempt timeout, while the
		// service spaces its replies so that its stream is still open then.
		r.readDelay, r.replyGap = rng.Dur(350*time.Millisecond, 600*time.Millisecond), rng.Dur(80*time.Millisecond, 150*time.Millisecond)
	}
	seed := int64(rng.IntN(1 << 20))
	start := time.Now()
	r.err = invoke(ctx, s, seed, r.business, sendGap, &r)
	r.took = time.Since(start)
	r.ctxDone = ctx.Err() != nil
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		r.deadlinePassed = true
	}
	r.events = cs.snapshot()
	return r
}

func oneBusinessCall(s *service, id string) callResult {
	r := callResult{svc: s, id: id, business: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs := &callSink{}
	ctx = observe.WithCallSink(metadata.AppendToOutgoingContext(ctx, stub.MDRequestID, id), cs)
	r.err = invoke(ctx, s, 1, true, 0, &r)
	r.events = cs.snapshot()
	return r
}

// afterBusiness names the first retry a call's events show after an attempt the service
// answered with its business error (InvalidArgument, whatever the classifier made of it), or
// returns "": a request may go out while the answer is on its way (a hedge after the hedging
// delay, a retry after a per-attempt timeout on a busy machine), no retry after it. (A hedge's
// HedgeSent is told on its own goroutine, and may be seen after an answer that came later
// than the hedge went out: the count of requests bounds hedges, see repeats.)
func afterBusiness(es []observe.Event) string {
	answered := false
	for _, e := range es {
		switch {
		case e.Kind == observe.AttemptFinished && e.Code == grpccodes.InvalidArgument:
			answered = true
		case answered && e.Kind == observe.RetryScheduled:
			return fmt.Sprintf("%v#%d after a business answer", e.Kind, e.Attempt)
		}
	}
	return ""
}

// repeats counts the retries and hedges a call's events show: each may reach the service.
func repeats(es []observe.Event) int {
	n := 0
	for _, e := range es {
		if e.Kind == observe.RetryScheduled || e.Kind == observe.HedgeSent {
			n++
		}
	}
	return n
}

func invoke(ctx context.Context, s *service, seed int64, business bool, sendGap time.Duration, r *callResult) error {
	switch s.method {
	case methodWatch:
		return invokeWatch(ctx, s.conn, 1+int(seed%4), business, r.readDelay, r.replyGap, &r.read)
	case methodChat:
		return invokeChat(ctx, s.conn, 1+int(seed%4), business, sendGap)
	case stub.MethodCompare:
		_, err := kycv1.NewFaceMatchServiceClient(s.conn).Compare(ctx, &kycv1.CompareRequest{
			Selfie: stub.Selfie(seed, !business), DocumentFace: stub.DocumentImage(seed, false)})
		return err
	case stub.MethodExtract:
		_, err := kycv1.NewOCRServiceClient(s.conn).Extract(ctx, &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(seed, business)})
		return err
	}
	st, err := kycv1.NewLivenessServiceClient(s.conn).Check(ctx)
	if err != nil {
		return err
	}
	frames := stub.Frames(seed, 4, true)
	if business {
		frames = [][]byte{stub.Selfie(seed, false)}
	}
	for j, f := range frames {
		if sendGap > 0 && j > 0 {
			t := time.NewTimer(sendGap)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if err := st.Send(&kycv1.CheckRequest{Index: uint32(j), Image: f}); err != nil {
			if errors.Is(err, io.EOF) {
				break // the status is CloseAndRecv's
			}
			return fmt.Errorf("send %d: %w", j, err)
		}
	}
	_, err = st.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

func statusOf(err error) (grpccodes.Code, string) {
	if err == nil {
		return grpccodes.OK, ""
	}
	return status.Code(err), err.Error()
}

func checkCall(t *testing.T, r callResult, b bounds, margin time.Duration) {
	t.Helper()
	limit := b.budget
	if r.deadline > 0 {
		limit = min(limit, r.deadline)
	}
	if r.took > limit+margin {
		t.Errorf("%s %s: took %v, its deadline %v (caller %v), margin %v: %v", r.svc.name, r.id, r.took, limit, r.deadline, margin, r.err)
	}
	finished, attempts, hedges := 0, 0, 0
	var fin observe.Event
	businessAt := -1
	for i, e := range r.events {
		switch e.Kind {
		case observe.CallFinished:
			finished++
			fin = e
		case observe.AttemptFinished:
			attempts++
			if e.Class == codes.Business && businessAt < 0 {
				businessAt = i
			}
		case observe.HedgeSent:
			hedges++
		case observe.RetryScheduled:
			if businessAt >= 0 {
				t.Errorf("%s %s: a retry scheduled after a business answer: %v", r.svc.name, r.id, kinds(r.events))
			}
		}
	}
	seen := map[int]bool{}
	for _, e := range r.events {
		if e.Kind != observe.AttemptFinished {
			continue
		}
		if seen[e.Attempt] {
			t.Errorf("%s %s: attempt %d reported twice (%v; caller's context ended %v): %v", r.svc.name, r.id, e.Attempt, r.err, r.ctxDone, kinds(r.events))
		}
		seen[e.Attempt] = true
	}
	if re := (*replyErr)(nil); errors.As(r.err, &re) {
		t.Errorf("%s %s: %v: %v", r.svc.name, r.id, r.err, kinds(r.events))
	}
	if c, _ := statusOf(r.err); r.readDelay > 0 && r.read > 0 && c == grpccodes.DeadlineExceeded && !r.ctxDone && !r.deadlinePassed && r.took < b.shortest*9/10 {
		// A stream commits at its first reply: no per-attempt timeout ends it after, and
		// its caller's own context lives on (its deadline, if any, not passed); only the
		// call's deadline, from the suite, could, and no configuration's comes so soon.
		t.Errorf("%s %s: a slow reader (first read after %v, replies %v apart, deadline %v) lost its stream after %d replies to %v after %v, before any call's deadline (%v): %v",
			r.svc.name, r.id, r.readDelay, r.replyGap, r.deadline, r.read, r.err, r.took, b.shortest, kinds(r.events))
	}
	checkFallback(t, r)
	if finished == 0 && r.svc.stream && r.ctxDone {
		// A stream that ends while no RecvMsg or SendMsg of its caller runs (its context
		// ended between two) sends no CallFinished (interceptors/doc.go, Events).
		if attempts > b.retries*b.hedges {
			t.Errorf("%s %s: %d AttemptFinished, at most %d retry attempts × %d hedged: %v", r.svc.name, r.id, attempts, b.retries, b.hedges, kinds(r.events))
		}
		return
	}
	if finished != 1 {
		t.Errorf("%s %s: %d CallFinished, want 1 (%v; deadline %v, canceled %v, send gap %v, took %v): %v", r.svc.name, r.id, finished, r.err, r.deadline, r.canceled, r.sendGap, r.took, kinds(r.events))
		return
	}
	if attempts != fin.Attempt {
		t.Errorf("%s %s: %d AttemptFinished, CallFinished counts %d attempts (%v): %v", r.svc.name, r.id, attempts, fin.Attempt, r.err, kinds(r.events))
	}
	most := b.retries * b.hedges
	if fin.Attempt > most || attempts > most {
		t.Errorf("%s %s: %d attempts (%d AttemptFinished), at most %d retry attempts × %d hedged: %v", r.svc.name, r.id, fin.Attempt, attempts, b.retries, b.hedges, kinds(r.events))
	}
	if n := r.svc.st.Attempts(r.svc.method, r.id); n > fin.Attempt {
		t.Errorf("%s %s: the service saw %d attempts, the call counted %d", r.svc.name, r.id, n, fin.Attempt)
	}
	if rounds := attempts - hedges; rounds > b.retries {
		t.Errorf("%s %s: %d attempts that are no hedge, max_attempts %d: %v", r.svc.name, r.id, rounds, b.retries, kinds(r.events))
	}
}

// throttled reports whether a call's events show it refused by the adaptive throttle: its
// attempt rejected, and the call's end (its CallFinished, or the fallback served in its place)
// giving the throttle's reason. (The throttle's own Rejected event goes to the suite's sink,
// not to the call's.)
func throttled(es []observe.Event) bool {
	for _, e := range es {
		if (e.Kind == observe.CallFinished || e.Kind == observe.FallbackServed) && e.Reason == throttle.ReasonThrottled {
			return true
		}
	}
	return false
}

func kinds(es []observe.Event) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, fmt.Sprintf("%v#%d:%v/%v[%s %s %v]", e.Kind, e.Attempt, e.Code, e.Class, e.Policy, e.Reason, e.Duration))
	}
	return out
}

// checkAtRest checks what holds once no call is in flight: no bulkhead slot held, a
// half-open breaker admits a probe, a throttle's probability within its bounds, an adaptive
// bulkhead's limit between its floor and ceiling.
func checkAtRest(t *testing.T, s *interceptors.Suite, breakers *breaker.Registry, svcs []*service) {
	t.Helper()
	var levels []observe.Level
	for l := range s.Levels {
		levels = append(levels, l)
	}
	type key struct{ service, method string }
	floor, ceiling := map[key]float64{}, map[key]float64{}
	for _, l := range levels {
		switch l.Kind {
		case observe.LevelCapacityFloor:
			floor[key{l.Service, l.Method}] = l.Value
		case observe.LevelCapacityCeiling:
			ceiling[key{l.Service, l.Method}] = l.Value
		}
	}
	for _, l := range levels {
		if l.Kind == observe.LevelCapacity {
			k := key{l.Service, l.Method}
			if lo, ok := floor[k]; ok && l.Value < lo {
				t.Errorf("adaptive bulkhead of %s%s: limit %v below its floor %v", l.Service, l.Method, l.Value, lo)
			}
			if hi, ok := ceiling[k]; ok && l.Value > hi {
				t.Errorf("adaptive bulkhead of %s%s: limit %v above its ceiling %v", l.Service, l.Method, l.Value, hi)
			}
		}
		switch l.Kind {
		case observe.LevelInFlight:
			if l.Value != 0 {
				t.Errorf("bulkhead of %s%s holds %v slots with no call in flight", l.Service, l.Method, l.Value)
			}
		case observe.LevelThrottleProbability:
			if l.Value < 0 || l.Value > 1 || math.IsNaN(l.Value) {
				t.Errorf("throttle of %s%s: rejection probability %v", l.Service, l.Method, l.Value)
			}
		case observe.LevelCapacity:
			if l.Value < 1 || math.IsNaN(l.Value) {
				t.Errorf("bulkhead of %s%s: capacity %v", l.Service, l.Method, l.Value)
			}
		}
	}
	var stuck []string
	breakers.Each(func(name string, b *breaker.Breaker) {
		if b.State() != breaker.HalfOpen {
			return
		}
		p, err := b.Allow()
		if err != nil {
			stuck = append(stuck, fmt.Sprintf("%s: %v", name, err))
			return
		}
		p.Record(codes.Canceled)
	})
	for _, m := range stuck {
		t.Errorf("a half-open breaker refuses a probe with no call in flight: %s", m)
	}
}
