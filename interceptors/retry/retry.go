package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Defaults filled in by New for zero fields of Config.
const (
	DefaultMaxAttempts       = 3
	DefaultInitialBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff        = 10 * time.Second
	DefaultMultiplier        = 2.0
	DefaultReplayBufferBytes = attempt.DefaultReplayBytes
	DefaultTokenRatio        = 0.1
	// DefaultMinPerSecond and DefaultBudgetWindow are the ratio budget's floor and window
	// (Throttle.MinPerSecond, Throttle.Window), Finagle's defaults.
	DefaultMinPerSecond = 10.0
	DefaultBudgetWindow = 10 * time.Second
)

// MinAttemptTime is the floor below which an attempt "cannot finish": no retry is started,
// and no backoff sleep is begun, unless at least this much time would remain before the
// caller's deadline and the budget once the sleep is over.
const MinAttemptTime = 5 * time.Millisecond

// PreviousAttemptsKey is the outgoing metadata key every attempt after the first carries:
// gRFC A6's grpc-previous-rpc-attempts, how many attempts of the call were sent before it,
// retries and the hedges of a hedging policy below alike (so 1 on the first retry of a call
// that was not hedged). The first attempt does not carry it. It is hedge.PreviousAttemptsKey.
const PreviousAttemptsKey = attempt.PreviousKey

// AttemptMetadataKey is the outgoing metadata key that carries the retry's own number (2 for
// the first retry, 3 for the second...) on retries. The first attempt does not carry it.
//
// Deprecated: read PreviousAttemptsKey (grpc-previous-rpc-attempts), which every later
// attempt carries; x-retry-attempt is sent on retries for one more release.
const AttemptMetadataKey = "x-retry-attempt" // attempt.LegacyRetryKey, written out: a deprecated name for a deprecated one

// Policy retries failed calls as its Config says. A Policy is safe for concurrent use; all
// calls made through one Policy share its retry budget (Config.Throttle), one bucket per
// gRPC service, up to 16384 services (see Budget). (The retry step of an interceptors suite's chain has one bucket, its chain's
// service's, whatever services its calls name: the suite's overflow chain serves every service
// past its bound on unlisted names, which would otherwise add a bucket each.)
type Policy struct {
	// keptTimeout is the per-attempt timeout grpc may keep for the policy (see keeps): the
	// configured one with the real clock, 0 with any other (grpc's timers do not follow it).
	// Set once in New, so that a call compares two durations and no clocks.
	keptTimeout time.Duration
	// overtaking says that the per-attempt timeout cuts overtaken attempts only
	// (CutOvertaken): it is then a timer of the loop's, and attempts that are answered tell
	// the method's state (answered).
	overtaking bool
	cfg        Config
	s          settings

	methods attempt.Methods[*methodInfo]
	mu      sync.Mutex              // guards buckets
	buckets map[string]*RetryBudget // Guarded by mu: per service.
	// rest is the bucket of the services not kept: those whose names are too long
	// (grpcmethod.MaxKeptName) and those past cowmap.MaxKeys services, which share it: a proxy
	// forwarding the names it is sent would otherwise keep a bucket per name.
	rest *RetryBudget // Guarded by mu
	// budgetService, when not empty, is the service whose bucket every call draws from: the
	// chain's, for a suite's retry step (see build).
	budgetService string
}

// methodInfo is what the policy remembers about one full method name.
type methodInfo struct {
	attempt.Method
	bucket *RetryBudget // nil when throttling is off
	overtaking
}

// New returns a retry policy for cfg, with the zero fields of cfg set to their defaults.
// It returns the error of cfg.Validate when cfg is out of range, or, with the defaults set
// (Normalize), when the two no longer fit together (a max_backoff of 50ms below the default
// initial_backoff of 100ms, say).
func New(cfg Config, opts ...Option) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = Normalize(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{
		cfg:     cfg,
		s:       settings{Base: attempt.NewBase(), rand: rand.Float64},
		buckets: map[string]*RetryBudget{},
	}
	for _, o := range opts {
		p.s.apply(o)
	}
	if err := optkit.CheckTypedNil(p.s.Clock, p.s.Sink); err != nil {
		return nil, err
	}
	p.overtaking = cfg.PerAttemptCut == CutOvertaken && cfg.PerAttemptTimeout > 0
	if p.s.Clock == clock.Real && !p.overtaking {
		// grpc's timeout cuts every attempt: not CutOvertaken's.
		p.keptTimeout = cfg.PerAttemptTimeout
	}
	return p, nil
}

// Config returns the policy's configuration with defaults filled in.
func (p *Policy) Config() Config { return p.cfg }

// Do calls fn until it succeeds, fails with an outcome that is not retried, or retrying must
// stop, as the policy says. method is the full gRPC method name ("/pkg.Service/Method") the
// work stands for: it names the service for the retry budget and events, and its descriptor
// decides idempotency (a name that is not a registered method is retried only with
// Config.Idempotent or WithIdempotent(true)). Each attempt gets its own context (with the
// per-attempt timeout and, on retries, the attempt metadata). opts change this call.
func (p *Policy) Do(ctx context.Context, method string, fn func(ctx context.Context) error, opts ...CallOption) error {
	var c call
	for _, o := range opts {
		c.apply(o)
	}
	if c.Disabled {
		return fn(ctx)
	}
	var l loop
	return p.run(&l, ctx, nil, time.Time{}, 0, p.method(method), &c, func(ctx context.Context, _ context.CancelFunc, _ int, _ bool) (metadata.MD, tally, error) {
		return nil, tally{}, fn(ctx)
	}, 1)
}

// method returns what the policy knows of a full method name, learning it on first use.
func (p *Policy) method(name string) *methodInfo {
	return p.methods.Get(name, p.newMethod)
}

func (p *Policy) newMethod(name string) *methodInfo {
	m := &methodInfo{Method: attempt.NewMethod(name)}
	svc := m.Service
	if p.budgetService != "" {
		svc = p.budgetService
	}
	m.bucket = p.Budget(svc) // nil when throttling is off
	return m
}

// Budget returns the retry budget (Config.Throttle) shared by every call of this policy to
// service, the fully qualified gRPC service name, or nil when throttling is off. Hedging
// policies draw from it so that hedges and retries together stay within one budget. The
// services whose names are longer than 1024 bytes (grpcmethod.MaxKeptName: names from input a
// proxy forwards), and the services named after the policy has budgets for cowmap.MaxKeys
// (16384) of them, share one budget, which keeps none of them.
func (p *Policy) Budget(service string) *RetryBudget {
	if p.cfg.Throttle.MaxTokens <= 0 && p.cfg.Throttle.Ratio <= 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.buckets[service]
	if ok {
		return b
	}
	if !grpcmethod.Keepable(service) || len(p.buckets) >= cowmap.MaxKeys {
		if p.rest == nil {
			p.rest = newBudget(p.cfg.Throttle, p.s.Clock)
		}
		return p.rest
	}
	b = newBudget(p.cfg.Throttle, p.s.Clock)
	p.buckets[service] = b
	return b
}

// attemptFunc runs one attempt with its context, after prev attempts of the call, and returns
// the trailers the server sent (when it has them), what a hedging policy below told of the
// requests it sent for it (see tally) and its error.
// more says whether a retry could follow the attempt, which is when its trailers (pushback)
// matter.
//
// cancel, when not nil, ends ctx: a hedging policy below may end the attempt with it.
type attemptFunc func(ctx context.Context, cancel context.CancelFunc, prev int, more bool) (trailer metadata.MD, t tally, err error)

// tally is what a hedging policy below the loop told of one of its attempts, a round of
// requests (see attempt.Round): how many it reported (0: none, and the loop reports the
// attempt itself, one request), and the number over the call of the request whose outcome the
// round returned (0: not told; the round's last).
type tally struct {
	reported, decided int32
	round             *attempt.Round // the round's, told when the per-attempt timeout ended it (Round.TimedOut); nil: none
}

// tallyOf reads what r was told of its round.
func tallyOf(r *attempt.Round) tally {
	return tally{reported: int32(r.Reported()), decided: int32(r.Decided()), round: r}
}

// bounds is what ends a call besides its attempts' outcomes and the caller's context: the
// budget's end, and a deadline declared for the call without a context of its own (see
// InvokeWithin). Both are times, read against the policy's clock, for unary calls and
// streams alike.
type bounds struct {
	declared, budgetEnd time.Time // zero: none
}

// deadline is the call's deadline: the earlier of ctx's and the declared one.
func (b bounds) deadline(ctx context.Context) (time.Time, bool) {
	dl, ok := ctx.Deadline()
	if !b.declared.IsZero() && (!ok || b.declared.Before(dl)) {
		return b.declared, true
	}
	return dl, ok
}

// own is the earlier of the declared deadline and the budget's end, the call's end that ctx
// does not carry (zero: neither).
func (b bounds) own() time.Time {
	switch {
	case b.declared.IsZero():
		return b.budgetEnd
	case b.budgetEnd.IsZero() || b.declared.Before(b.budgetEnd):
		return b.declared
	}
	return b.budgetEnd
}

// end is the earlier of the call's deadline and the budget's end (zero: neither).
func (b bounds) end(ctx context.Context) time.Time {
	dl, ok := b.deadline(ctx)
	switch {
	case !ok:
		return b.budgetEnd
	case b.budgetEnd.IsZero() || dl.Before(b.budgetEnd):
		return dl
	}
	return b.budgetEnd
}

// over says why the call must stop at now because the declared deadline or the budget
// (whichever came first; the budget when they are one instant, as a suite's deadline step
// that the call budget caps declares) has passed: ReasonDeadline, ReasonBudget, or "" when
// neither has. The caller's own context is checked before.
func (b bounds) over(now time.Time) string {
	switch {
	case !b.declared.IsZero() && !now.Before(b.declared) && (b.budgetEnd.IsZero() || b.budgetEnd.After(b.declared)):
		return observe.ReasonDeadline
	case !b.budgetEnd.IsZero() && !now.Before(b.budgetEnd):
		return observe.ReasonBudget
	case !b.declared.IsZero() && !now.Before(b.declared):
		return observe.ReasonDeadline
	}
	return ""
}

// run is the unary retry loop, shared by Do and the unary interceptor, on l, a loop's zero
// value (the interceptor's is pooled: off the stack of the call's attempts). declared, when not
// zero, is a deadline for the whole call that ctx does not carry (see InvokeWithin).
//
// Each attempt gets at most one context of its own (attempt.BoundOf): its deadline is the
// earliest of the per-attempt timeout, the declared deadline and the budget's end, made only
// when that comes before ctx's own deadline. Which of them ended an attempt is known from the
// times: only the per-attempt timeout makes its DeadlineExceeded retryable.
//
// t, when not nil, gives the call's start and gets its end (see section.Timing): the loop
// takes its Start as the call's and its first attempt's start (zero: it reads the clock), and
// sets its End to the loop's last reading of the clock, taken once the call's outcome was
// known, or leaves it zero when it took none (no observer, no report): then the caller reads
// the clock if it needs the end.
//
// kept, when not 0, is the timeout grpc applies to every attempt it is given (see InvokeKept).
// n is the attempt to make first: 1, or 2 for a call whose first attempt InvokeGated made and
// whose loop l it set up (see resume).
func (p *Policy) run(l *loop, ctx context.Context, t *section.Timing, declared time.Time, kept time.Duration, m *methodInfo, c *call, fn attemptFunc, n int) error {
	var start time.Time
	sink := p.s.Sink
	if t != nil {
		start = t.Start
		if t.Sink != nil {
			sink = t.Sink
		}
	}
	if n == 1 {
		p.initLoop(l, ctx, m, c, sink, declared, start)
		l.kept = p.keeps(kept)
	}
	defer l.finish(t)
	for ; ; n++ {
		// The first attempt starts when the call does: one reading of the clock less per call.
		t0 := l.start
		if n > 1 {
			t0 = l.clk.Now() // not l.end: the sleep zeroed it, and this attempt's outcome is not known
		}
		bound := attempt.BoundOf(ctx, l.b.own(), t0, p.cfg.PerAttemptTimeout, l.kept)
		var (
			actx   context.Context
			cancel context.CancelFunc
		)
		if p.overtaking && bound.PerAttempt {
			actx, cancel = l.overtakenContext(ctx, bound, t0)
		} else {
			actx, cancel = bound.Context(ctx, l.clk, false)
		}
		actx = l.outgoing(actx, n)
		l.cancel = cancel // for finish, should fn panic
		trailer, tl, err := fn(actx, cancel, l.sent, l.more(n))
		l.cancel = nil
		if cancel != nil {
			timedOut := bound.PerAttempt && actx.Err() == context.DeadlineExceeded
			if l.cut != nil {
				timedOut = l.cut.stop()
				l.cut = nil
			}
			if timedOut && err != nil && ctx.Err() == nil {
				err = attemptTimedOut(err, p.cfg.PerAttemptTimeout)
				if tl.round != nil {
					// A hedging policy below learns that its attempts ran at least so long.
					tl.round.TimedOut()
				}
			}
			cancel()
		}
		v := p.s.Classifier.ClassifyTrailer(err, trailer)
		l.finished(ctx, n, t0, v, tl)
		if err == nil {
			l.report(v)
			return nil
		}
		if retry, ferr := l.next(ctx, ctx, n, v, err, nil); !retry {
			return ferr
		}
	}
}

// attemptTimedOut returns the error of an attempt whose own timeout expired. What ran under the
// attempt's context may still answer Canceled (grpc's status of a stream the expiry cut, a
// Do function that canceled work of its own, a context derived through a clock whose contexts
// do not carry the deadline's error): the attempt is reported as DeadlineExceeded, which it
// is. Any other error is the attempt's
// own answer (a business status, a plain error from work that did not watch its context),
// which arrived after the timeout: it is kept, and classified as it is.
func attemptTimedOut(err error, d time.Duration) error {
	if status.Code(err) == grpccodes.Canceled || errors.Is(err, context.Canceled) {
		return status.Error(grpccodes.DeadlineExceeded, "retry: per-attempt timeout ("+d.String()+") exceeded")
	}
	return err
}
