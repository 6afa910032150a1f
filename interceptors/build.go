package interceptors

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"google.golang.org/grpc"
)

// prepared is a chain whose stateless steps (classifier, fallback, deadline) are built and
// whose stateful ones (retry budget, breaker, limiter, bulkhead) are not taken yet.
type prepared struct {
	c                   *chain
	service, fullMethod string
	sp                  config.Policy // the service's own policy, to tell which objects to share
	unary               []unaryStep
	stream              []grpc.StreamClientInterceptor
}

func (p *prepared) add(u grpc.UnaryClientInterceptor, st grpc.StreamClientInterceptor) {
	p.unary = append(p.unary, unaryStep{ic: u})
	p.stream = append(p.stream, st)
}

// addDeadline adds the deadline step, which a retry step right after it takes into its loop.
func (p *prepared) addDeadline(dl *deadline.Policy) {
	p.unary = append(p.unary, unaryStep{ic: dl.Unary(), dl: dl})
	p.stream = append(p.stream, dl.Stream())
}

// addRetry adds the retry step.
func (p *prepared) addRetry(rp *retry.Policy) {
	p.unary = append(p.unary, unaryStep{ic: rp.Unary(), rp: rp})
	p.stream = append(p.stream, rp.Stream())
}

// buildLocked composes the chain of one full method under cfg. s.mu must be held.
func (s *Suite) buildLocked(cfg *config.Config, fullMethod string) *chain {
	p := s.prepare(cfg, fullMethod)
	if p.c.err != nil {
		return p.c
	}
	return s.finishLocked(p)
}

// prepare builds the steps of a chain that can fail on configuration (a fallback reply that
// does not fit the method, say) and that hold no state shared with other chains, so that a
// configuration can be checked whole before any shared object is replaced. On failure p.c.err
// is set.
func (s *Suite) prepare(cfg *config.Config, fullMethod string) *prepared {
	service, _ := grpcmethod.Split(fullMethod)
	mp := cfg.Resolve(fullMethod)
	p := &prepared{c: &chain{policy: mp}, service: service, fullMethod: fullMethod, sp: cfg.ResolveService(service)}
	c, add := p.c, p.add
	cl, err := mp.NewClassifier()
	if err != nil {
		c.err = fmt.Errorf("%s: classifier: %w", fullMethod, err)
		return p
	}
	c.classifier = cl

	// fallback
	if mp.Fallback != nil {
		reply := s.o.fallbacks[fullMethod]
		if reply == nil {
			reply = s.o.fallbacks[service]
		}
		fb, err := fallback.New(fullMethod, *mp.Fallback, reply,
			fallback.WithClock(s.clk), fallback.WithObserver(s.o.sink), fallback.WithClassifier(cl))
		if err != nil {
			c.err = fmt.Errorf("%s: fallback: %w", fullMethod, err)
			return p
		}
		add(fb.Unary(), fb.Stream())
	}

	// deadline: always, as the global budget caps every call.
	dcfg := deadline.Config{}
	if mp.Deadline != nil {
		dcfg = *mp.Deadline
	}
	if dcfg.Max == 0 || dcfg.Max > mp.Budget {
		dcfg.Max = mp.Budget
	}
	if dcfg.Default > dcfg.Max {
		dcfg.Default = dcfg.Max
	}
	dl, err := deadline.New(dcfg, deadline.WithClock(s.clk), deadline.WithObserver(s.o.sink))
	if err != nil {
		c.err = fmt.Errorf("%s: deadline: %w", fullMethod, err)
		return p
	}
	p.addDeadline(dl)
	return p
}

// finishLocked takes the chain's stateful objects — kept from earlier configurations where
// their settings did not change — and composes it. s.mu must be held.
func (s *Suite) finishLocked(p *prepared) *chain {
	c, add, mp, sp, service, fullMethod := p.c, p.add, p.c.policy, p.sp, p.service, p.fullMethod
	cl := c.classifier
	// name is the policy object's name for a section: the service's when the method resolves
	// that section (and the classifier) as the service does, else the method's own.
	name := func(sec config.Section) string {
		if mp.Budget == sp.Budget && sameSections(mp, sp, sec, config.SectionClassifier) {
			return service
		}
		return fullMethod
	}

	// retry: the attempt loop. With the section off it is still there (one attempt) when events
	// are observed, so that attempts are accounted.
	var budget *retry.Budget
	if mp.Retry != nil || s.o.sink != nil {
		rp, err := s.retryLocked(name(config.SectionRetry), mp, cl)
		if err != nil {
			c.err = fmt.Errorf("%s: retry: %w", fullMethod, err)
			return c
		}
		budget = rp.Budget(service)
		p.addRetry(rp)
	}

	// hedge: inside the retry loop, so that each attempt of the loop is a hedged round; the
	// hedges draw on the same retry budget.
	if mp.Hedge != nil {
		hp, err := s.hedgeLocked(name(config.SectionHedge), mp, cl, budget)
		if err != nil {
			c.err = fmt.Errorf("%s: hedge: %w", fullMethod, err)
			return c
		}
		add(hp.Unary(), hp.Stream())
	}

	// breaker
	if mp.Breaker != nil {
		bname := name(config.SectionBreaker)
		if mp.Breaker.Scope == breaker.ScopeMethod {
			bname = fullMethod
		}
		b, err := s.breakerLocked(bname, service, mp, cl)
		if err != nil {
			c.err = fmt.Errorf("%s: breaker: %w", fullMethod, err)
			return c
		}
		add(b.Unary(), b.Stream())
	}

	// adaptive throttle: after the breaker, so that an open breaker's rejections are not
	// counted as requests the service refused.
	if mp.AdaptiveThrottle != nil {
		tp, err := s.throttleLocked(name(config.SectionAdaptiveThrottle), service, mp, cl)
		if err != nil {
			c.err = fmt.Errorf("%s: adaptive_throttle: %w", fullMethod, err)
			return c
		}
		add(tp.Unary(), tp.Stream())
	}

	// rate limit
	if mp.RateLimit != nil {
		lp, err := s.limiterLocked(name(config.SectionRateLimit), service, mp)
		if err != nil {
			c.err = fmt.Errorf("%s: rate_limit: %w", fullMethod, err)
			return c
		}
		add(lp.Unary(), lp.Stream())
	}

	// bulkhead
	if mp.Bulkhead != nil {
		bh, err := s.bulkheadLocked(name(config.SectionBulkhead), mp, cl)
		if err != nil {
			c.err = fmt.Errorf("%s: bulkhead: %w", fullMethod, err)
			return c
		}
		add(bh.Unary(), bh.Stream())
	}

	c.uc = newUnaryChain(p.unary)
	c.unary = c.uc.interceptor
	c.stream = chainStream(p.stream)
	return c
}

// fingerprint is the identity of a shared policy object: everything it was built from that
// changes how it behaves. That is the sections of the resolved policy it reads (its own, and
// the classifier overrides whenever it classifies outcomes), the call budget when it bounds
// itself by it, and the shared objects it was handed (the hedge's retry budget). The suite's
// clock, observer and random source are the same for every object and are left out. An object
// is kept across a reload only when its fingerprint is unchanged.
type fingerprint struct {
	policy config.Policy
	secs   []config.Section
	budget bool // the object captures policy.Budget
	with   any  // a shared object the object captures, compared by identity; nil for none
}

func fingerprintOf(p config.Policy, budget bool, with any, secs ...config.Section) fingerprint {
	return fingerprint{policy: p, secs: secs, budget: budget, with: with}
}

// same reports whether objects built from f and g behave alike.
func (f fingerprint) same(g fingerprint) bool {
	if f.budget != g.budget || f.with != g.with || !slices.Equal(f.secs, g.secs) {
		return false
	}
	if f.budget && f.policy.Budget != g.policy.Budget {
		return false
	}
	return sameSections(f.policy, g.policy, f.secs...)
}

func retryFingerprint(p config.Policy) fingerprint {
	return fingerprintOf(p, true, nil, config.SectionRetry, config.SectionClassifier)
}

// breakerLocked returns the breaker named name from the suite's registry. The registry keeps
// a breaker whose settings are unchanged; the suite also drops it when anything else in its
// fingerprint (the classifier) changed, so that it is made afresh.
func (s *Suite) breakerLocked(name, service string, p config.Policy, classifier *codes.Classifier) (*breaker.Breaker, error) {
	fp := fingerprintOf(p, false, nil, config.SectionBreaker, config.SectionClassifier)
	if old, ok := s.objs.breakers[name]; ok && !old.same(fp) {
		s.o.breakers.Delete(name)
	}
	b, err := s.o.breakers.Get(name, *p.Breaker, breaker.WithClock(s.clk), breaker.WithObserver(s.o.sink),
		breaker.WithClassifier(classifier), breaker.WithService(service))
	if err != nil {
		return nil, err
	}
	s.objs.breakers[name] = fp
	return b, nil
}

func (s *Suite) retryLocked(name string, p config.Policy, classifier *codes.Classifier) (*retry.Policy, error) {
	if e, ok := s.objs.retries[name]; ok && e.fp.same(retryFingerprint(p)) {
		return e.p, nil
	}
	rcfg := retry.Config{MaxAttempts: 1}
	if p.Retry != nil {
		rcfg = *p.Retry
	}
	if rcfg.Budget == 0 || rcfg.Budget > p.Budget {
		rcfg.Budget = p.Budget
	}
	if rcfg.PerAttemptTimeout > rcfg.Budget {
		rcfg.PerAttemptTimeout = rcfg.Budget
	}
	opts := []retry.Option{retry.WithClock(s.clk), retry.WithObserver(s.o.sink), retry.WithClassifier(classifier)}
	if s.o.rand != nil {
		opts = append(opts, retry.WithRand(s.o.rand))
	}
	rp, err := retry.New(rcfg, opts...)
	if err != nil {
		return nil, err
	}
	s.objs.retries[name] = retryEntry{fp: retryFingerprint(p), p: rp}
	return rp, nil
}

// sameSections reports whether a and b agree on every section in secs.
func sameSections(a, b config.Policy, secs ...config.Section) bool {
	for _, sec := range secs {
		if !a.Profile.SameSection(b.Profile, sec) {
			return false
		}
	}
	return true
}

func (s *Suite) hedgeLocked(name string, p config.Policy, classifier *codes.Classifier, budget *retry.Budget) (*hedge.Policy, error) {
	fp := fingerprintOf(p, false, budget, config.SectionHedge, config.SectionClassifier)
	if e, ok := s.objs.hedges[name]; ok && e.fp.same(fp) {
		return e.p, nil
	}
	opts := []hedge.Option{hedge.WithClock(s.clk), hedge.WithObserver(s.o.sink), hedge.WithClassifier(classifier)}
	if budget != nil {
		opts = append(opts, hedge.WithBudget(budget))
	}
	hp, err := hedge.New(*p.Hedge, opts...)
	if err != nil {
		return nil, err
	}
	s.objs.hedges[name] = hedgeEntry{fp: fp, p: hp}
	return hp, nil
}

func (s *Suite) throttleLocked(name, service string, p config.Policy, classifier *codes.Classifier) (*throttle.Throttle, error) {
	fp := fingerprintOf(p, false, nil, config.SectionAdaptiveThrottle, config.SectionClassifier)
	if e, ok := s.objs.throttles[name]; ok && e.fp.same(fp) {
		return e.t, nil
	}
	opts := []throttle.Option{throttle.WithClock(s.clk), throttle.WithObserver(s.o.sink), throttle.WithClassifier(classifier)}
	if s.o.rand != nil {
		opts = append(opts, throttle.WithRand(s.o.rand))
	}
	t, err := throttle.New(service, *p.AdaptiveThrottle, opts...)
	if err != nil {
		return nil, err
	}
	s.objs.throttles[name] = throttleEntry{fp: fp, t: t}
	return t, nil
}

func (s *Suite) bulkheadLocked(name string, p config.Policy, classifier *codes.Classifier) (*bulkhead.Bulkhead, error) {
	// The classifier matters only to an adaptive limit, which tells overload from the rest.
	fp := fingerprintOf(p, false, nil, config.SectionBulkhead)
	if p.Bulkhead.Adaptive.Algorithm != bulkhead.AlgorithmNone {
		fp = fingerprintOf(p, false, nil, config.SectionBulkhead, config.SectionClassifier)
	}
	if e, ok := s.objs.bulkheads[name]; ok && e.fp.same(fp) {
		return e.b, nil
	}
	b, err := bulkhead.New(name, *p.Bulkhead, bulkhead.WithClock(s.clk), bulkhead.WithObserver(s.o.sink), bulkhead.WithClassifier(classifier))
	if err != nil {
		return nil, err
	}
	s.objs.bulkheads[name] = bulkheadEntry{fp: fp, b: b}
	return b, nil
}

func (s *Suite) limiterLocked(name, service string, mp config.Policy) (*ratelimit.Policy, error) {
	cfg := *mp.RateLimit
	fp := fingerprintOf(mp, false, nil, config.SectionRateLimit)
	if e, ok := s.objs.limiters[name]; ok && e.fp.same(fp) {
		return e.p, nil
	}
	opts := []ratelimit.Option{ratelimit.WithClock(s.clk), ratelimit.WithObserver(s.o.sink), ratelimit.WithRegistry(s.o.limiters)}
	var l ratelimit.Limiter
	var closeFn func() error
	if cfg.Redis != nil {
		key := name
		if cfg.Shared != "" {
			key = cfg.Shared
		}
		if s.o.remote == nil {
			return nil, fmt.Errorf("interceptors: %s: rate_limit.redis needs a remote limiter factory: pass interceptors.WithRemoteLimiter(redislimit.Factory(nil)) to New", name)
		}
		rl, closer, err := s.o.remote(key, cfg, ratelimit.RemoteEnv{Service: service, Clock: s.clk, Sink: s.o.sink})
		if err != nil {
			return nil, err
		}
		l = rl
		if closer != nil {
			closeFn = closer.Close
		}
	}
	p, err := ratelimit.New(service, l, cfg, opts...)
	if err != nil {
		if closeFn != nil {
			_ = closeFn()
		}
		return nil, err
	}
	if old, ok := s.objs.limiters[name]; ok && old.close != nil {
		// The old limiter may still serve calls in flight on the previous state: its client is
		// closed only when the suite closes.
		s.objs.retired = append(s.objs.retired, old.close)
	}
	s.objs.limiters[name] = limiterEntry{fp: fp, p: p, close: closeFn}
	return p, nil
}

// unaryStep is one step of a unary chain: an interceptor, and for the deadline and retry
// steps the policy behind it.
type unaryStep struct {
	ic grpc.UnaryClientInterceptor
	dl *deadline.Policy // the deadline step; with rp, folded into the retry loop
	rp *retry.Policy    // the retry step
}

// foldDeadline merges a deadline step followed at once by a retry step into one step: the
// deadline the policy would set is declared to the retry loop (retry.InvokeWithin), which
// bounds each attempt's one context by it instead of nesting a context for it around the loop.
func foldDeadline(steps []unaryStep) []unaryStep {
	out := make([]unaryStep, 0, len(steps))
	for i := 0; i < len(steps); i++ {
		if st := steps[i]; st.dl != nil && i+1 < len(steps) && steps[i+1].rp != nil {
			out = append(out, unaryStep{dl: st.dl, rp: steps[i+1].rp})
			i++
			continue
		}
		out = append(out, unaryStep{ic: steps[i].ic})
	}
	return out
}

// unaryChain runs the steps of a unary chain in order. The invokers that link one step to the
// next are bound once per pooled runner, so a call allocates nothing for the chain, and the
// runner counts the attempts of the retry loop: the times the step after the retry step is
// entered, which is retry.Info's count (attempts rejected by a later step included, hedges
// not) without a retry.Report per call. A runner goes back to the pool when the call
// returns: no unary step keeps its invoker after returning (hedge waits for every attempt it
// started), and a call that panics drops its runner.
type unaryChain struct {
	steps   []unaryStep
	countAt int // the step whose entries are the attempts (len(steps): the invoker)
	pool    sync.Pool
}

func newUnaryChain(steps []unaryStep) *unaryChain {
	uc := &unaryChain{steps: foldDeadline(steps)}
	uc.countAt = len(uc.steps)
	for i, st := range uc.steps {
		if st.rp != nil {
			uc.countAt = i + 1
		}
	}
	uc.pool.New = func() any {
		r := &unaryRunner{steps: uc.steps, countAt: uc.countAt, next: make([]grpc.UnaryInvoker, len(uc.steps))}
		for i := range uc.steps {
			r.next[i] = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return r.step(i+1, ctx, method, req, reply, cc, opts)
			}
		}
		return r
	}
	return uc
}

// run calls the chain and reports the attempts made (see unaryChain).
func (uc *unaryChain) run(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) (int, error) {
	r := uc.pool.Get().(*unaryRunner)
	r.invoker = invoker
	r.attempts.Store(0)
	err := r.step(0, ctx, method, req, reply, cc, opts)
	n := int(r.attempts.Load())
	r.invoker = nil
	uc.pool.Put(r)
	return n, err
}

func (uc *unaryChain) interceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	_, err := uc.run(ctx, method, req, reply, cc, invoker, opts)
	return err
}

// unaryRunner is one call's pass through a unaryChain. attempts is atomic because, without a
// retry step, hedged attempts reach the invoker from goroutines of their own.
type unaryRunner struct {
	steps    []unaryStep
	countAt  int
	invoker  grpc.UnaryInvoker
	next     []grpc.UnaryInvoker
	attempts atomic.Int32
}

func (r *unaryRunner) step(i int, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption) error {
	if i == r.countAt {
		r.attempts.Add(1)
	}
	if i == len(r.steps) {
		return r.invoker(ctx, method, req, reply, cc, opts...)
	}
	st := &r.steps[i]
	if st.dl != nil {
		declared, _ := st.dl.Deadline(ctx, method)
		return st.rp.InvokeWithin(ctx, declared, method, req, reply, cc, r.next[i], opts...)
	}
	return st.ic(ctx, method, req, reply, cc, r.next[i], opts...)
}

func chainStream(ints []grpc.StreamClientInterceptor) grpc.StreamClientInterceptor {
	if len(ints) == 0 {
		return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, opts...)
		}
	}
	first, rest := ints[0], ints[1:]
	if len(rest) == 0 {
		return first
	}
	next := chainStream(rest)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return first(ctx, desc, cc, method, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return next(ctx, desc, cc, method, streamer, opts...)
		}, opts...)
	}
}
