package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/observe"
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
	DefaultReplayBufferBytes = 256 << 10
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

// AttemptMetadataKey is the outgoing metadata key that carries the attempt number (2 for the
// first retry, 3 for the second...) on retries. The first attempt does not carry it.
const AttemptMetadataKey = "x-retry-attempt"

// Policy retries failed calls as its Config says. A Policy is safe for concurrent use; all
// calls made through one Policy share its retry budget (Config.Throttle), one bucket per
// gRPC service.
type Policy struct {
	cfg Config
	s   settings

	methods cowmap.Map[string, *methodInfo]
	mu      sync.Mutex         // guards buckets
	buckets map[string]*Budget // Guarded by mu: per service.
}

// methodInfo is what the policy remembers about one full method name.
type methodInfo struct {
	name    string
	service string
	safe    bool    // the descriptor says NO_SIDE_EFFECTS or IDEMPOTENT
	bucket  *Budget // nil when throttling is off
}

// New returns a retry policy for cfg, with the zero fields of cfg set to their defaults.
// It returns the error of cfg.Validate when cfg is out of range.
func New(cfg Config, opts ...Option) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = Normalize(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{
		cfg: cfg,
		s: settings{
			clock:      clock.Real,
			rand:       rand.Float64,
			classifier: codes.Default(),
		},
		buckets: map[string]*Budget{},
	}
	for _, o := range opts {
		if o.perCall {
			return nil, errors.New("retry: Report is a per-call option and cannot be given to New")
		}
		if o.apply != nil {
			o.apply(&p.s)
		}
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
// per-attempt timeout and, on retries, the x-retry-attempt metadata). opts override the
// policy's options for this call.
func (p *Policy) Do(ctx context.Context, method string, fn func(ctx context.Context) error, opts ...Option) error {
	cs := &p.s
	if len(opts) > 0 {
		c := new(settings)
		*c = p.s
		for _, o := range opts {
			if o.apply != nil {
				o.apply(c)
			}
		}
		cs = c
	}
	if cs.disabled {
		return fn(ctx)
	}
	return p.run(ctx, p.method(method), cs, func(ctx context.Context, _ int) (metadata.MD, error) {
		return nil, fn(ctx)
	})
}

// method returns what the policy knows of a full method name, learning it on first use.
func (p *Policy) method(name string) *methodInfo {
	if m, ok := p.methods.Load(name); ok {
		return m
	}
	return p.methods.LoadOrMake(name, p.newMethod)
}

func (p *Policy) newMethod(name string) *methodInfo {
	m := &methodInfo{name: name, service: grpcmethod.Service(name), safe: grpcmethod.SafeToRetry(name)}
	m.bucket = p.Budget(m.service) // nil when throttling is off
	return m
}

// Budget returns the retry budget (Config.Throttle) shared by every call of this policy to
// service, the fully qualified gRPC service name, or nil when throttling is off. Hedging
// policies draw from it so that hedges and retries together stay within one budget.
func (p *Policy) Budget(service string) *Budget {
	if p.cfg.Throttle.MaxTokens <= 0 && p.cfg.Throttle.Ratio <= 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.buckets[service]
	if !ok {
		b = newBudget(p.cfg.Throttle, p.s.clock)
		p.buckets[service] = b
	}
	return b
}

// eligible reports whether the idempotency rule lets the call be retried at all.
func (p *Policy) eligible(m *methodInfo, cs *settings) bool {
	switch cs.idempotent {
	case 1:
		return true
	case -1:
		return false
	}
	return m.safe || p.cfg.Idempotent
}

func (p *Policy) maxAttempts(cs *settings) int {
	if cs.maxAttempts > 0 {
		return cs.maxAttempts
	}
	return p.cfg.MaxAttempts
}

// attemptFunc runs one attempt (1-based) and returns its error and, when it has them, the
// trailers the server sent.
type attemptFunc func(ctx context.Context, attempt int) (metadata.MD, error)

// run is the retry loop shared by Do and the unary interceptor.
func (p *Policy) run(ctx context.Context, m *methodInfo, cs *settings, fn attemptFunc) error {
	clk := cs.clock
	start := clk.Now()
	callCtx := ctx
	var budgetEnd time.Time
	if p.cfg.Budget > 0 {
		budgetEnd = start.Add(p.cfg.Budget)
		// A caller's deadline at or before the budget's end already bounds every attempt: a
		// second deadline context would cost allocations and a timer for nothing.
		if dl, ok := ctx.Deadline(); !ok || dl.After(budgetEnd) {
			var cancel context.CancelFunc
			callCtx, cancel = clock.WithDeadline(ctx, clk, budgetEnd)
			defer cancel()
		}
	}
	limit := p.maxAttempts(cs)
	eligible := p.eligible(m, cs)
	var (
		timer clock.Timer
		sched schedule
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for n := 1; ; n++ {
		actx := callCtx
		if n > 1 {
			actx = metadata.AppendToOutgoingContext(actx, AttemptMetadataKey, strconv.Itoa(n))
		}
		var cancel context.CancelFunc
		t0 := clk.Now()
		if p.cfg.PerAttemptTimeout > 0 {
			// Only when the attempt's own deadline comes before the call's: otherwise it could
			// never fire, and the call's deadline is the one that ends the attempt.
			if dl, ok := callCtx.Deadline(); !ok || dl.After(t0.Add(p.cfg.PerAttemptTimeout)) {
				actx, cancel = clock.WithTimeout(actx, clk, p.cfg.PerAttemptTimeout)
			}
		}
		trailer, err := fn(actx, n)
		if cancel != nil {
			if err != nil && actx.Err() == context.DeadlineExceeded && callCtx.Err() == nil {
				err = attemptTimedOut(err, p.cfg.PerAttemptTimeout)
			}
			cancel()
		}
		v := cs.classifier.ClassifyTrailer(err, trailer)
		if m.bucket != nil {
			m.bucket.record(v, n == 1)
		}
		if cs.sink != nil {
			now := clk.Now()
			cs.sink.Observe(observe.Event{
				Kind: observe.AttemptFinished, Time: now, Service: m.service, Method: m.name,
				Policy: observe.PolicyRetry, Attempt: n, Code: v.Code, Class: v.Class, Duration: now.Sub(t0),
			})
		}
		if err == nil {
			p.report(cs, start, n, v, "")
			return nil
		}
		delay, reason, raw := p.decide(ctx, callCtx, m, cs, v, n, limit, eligible, sched, budgetEnd)
		if raw {
			p.report(cs, start, n, v, "")
			return err
		}
		if reason != "" {
			return p.exhausted(cs, m, start, n, v, reason, err)
		}
		if cs.sink != nil {
			cs.sink.Observe(observe.Event{
				Kind: observe.RetryScheduled, Time: clk.Now(), Service: m.service, Method: m.name,
				Policy: observe.PolicyRetry, Attempt: n, Code: v.Code, Class: v.Class, Delay: delay,
				Reason: delayReason(v),
			})
		}
		if !sleep(callCtx, clk, &timer, delay) {
			if reason, raw := interrupted(ctx); !raw {
				return p.exhausted(cs, m, start, n, v, reason, err)
			}
			p.report(cs, start, n, v, "")
			return err
		}
		sched = sched.next(delay, v.Pushback.Set)
	}
}

// decide says what follows the failed attempt n with verdict v: a retry after delay, the end
// of retrying for reason after a retryable outcome, or (raw) the end of the call with the
// error as it is, because the outcome is never retried, the caller canceled, or the method
// may not be retried. The retry budget is asked last, once the retry is otherwise certain,
// because a ratio budget counts the retry it allows.
func (p *Policy) decide(ctx, callCtx context.Context, m *methodInfo, cs *settings, v codes.Verdict, n, limit int, eligible bool, sched schedule, budgetEnd time.Time) (delay time.Duration, reason string, raw bool) {
	switch {
	case !v.Class.Retryable(), !eligible, errors.Is(ctx.Err(), context.Canceled):
		return 0, "", true
	case ctx.Err() != nil:
		return 0, observe.ReasonDeadline, false
	case callCtx.Err() != nil:
		return 0, observe.ReasonBudget, false
	case v.Pushback.Stop:
		return 0, observe.ReasonPushbackStop, false
	case n >= limit:
		return 0, observe.ReasonMaxAttempts, false
	}
	now := cs.clock.Now()
	if v.Pushback.Set {
		delay = v.Pushback.Delay
	} else {
		var upper time.Duration
		delay, upper = p.backoff(sched, cs.rand)
		if p.cfg.FitSchedule {
			delay = fit(delay, upper, now, callEnd(ctx, budgetEnd), limit-n)
		}
	}
	if reason := fits(ctx, now, delay, budgetEnd); reason != "" {
		return delay, reason, false
	}
	if m.bucket != nil && !m.bucket.Allow() {
		return 0, observe.ReasonRetryBudget, false
	}
	return delay, "", false
}

// delayReason is RetryScheduled's Reason: ReasonPushback when the server chose the delay.
func delayReason(v codes.Verdict) string {
	if v.Pushback.Set {
		return observe.ReasonPushback
	}
	return ""
}

// sleep waits d on *t (made on first use, then Reset: one timer per retry loop) unless ctx is
// done first. It reports whether the whole sleep passed.
func sleep(ctx context.Context, clk clock.Clock, t *clock.Timer, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if *t == nil {
		*t = clk.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-(*t).C():
		return true
	case <-ctx.Done():
		(*t).Stop()
		return false
	}
}

// interrupted says how a call whose backoff sleep was cut short ends: raw when the caller
// canceled, else exhausted for the caller's deadline or the budget.
func interrupted(ctx context.Context) (reason string, raw bool) {
	switch err := ctx.Err(); {
	case errors.Is(err, context.Canceled):
		return "", true
	case err != nil:
		return observe.ReasonDeadline, false
	}
	return observe.ReasonBudget, false
}

// fits says why a sleep of d starting at now cannot be followed by an attempt of at least
// MinAttemptTime before the caller's deadline or the budget's end, or "" when it can.
func fits(ctx context.Context, now time.Time, d time.Duration, budgetEnd time.Time) string {
	end := now.Add(d + MinAttemptTime)
	dl, ok := ctx.Deadline()
	if !budgetEnd.IsZero() && (!ok || budgetEnd.Before(dl)) {
		if end.After(budgetEnd) {
			return observe.ReasonBudget
		}
		return ""
	}
	if ok && end.After(dl) {
		return observe.ReasonDeadline
	}
	return ""
}

func (p *Policy) report(cs *settings, start time.Time, n int, v codes.Verdict, reason string) {
	if cs.report != nil {
		cs.setReport(Info{Attempts: n, Elapsed: cs.clock.Now().Sub(start), Code: v.Code, Reason: reason})
	}
}

func (s *settings) setReport(info Info) {
	if s.report != nil {
		*s.report = info
	}
	if s.report2 != nil {
		*s.report2 = info
	}
}

// exhausted ends a call that stops after a retryable outcome.
func (p *Policy) exhausted(cs *settings, m *methodInfo, start time.Time, n int, v codes.Verdict, reason string, err error) error {
	now := cs.clock.Now()
	info := Info{Attempts: n, Elapsed: now.Sub(start), Code: v.Code, Reason: reason}
	cs.setReport(info)
	if cs.sink != nil {
		cs.sink.Observe(observe.Event{
			Kind: observe.RetriesExhausted, Time: now, Service: m.service, Method: m.name,
			Policy: observe.PolicyRetry, Attempt: n, Code: v.Code, Class: v.Class, Duration: info.Elapsed, Reason: reason,
		})
	}
	return &ExhaustedError{Info: info, Err: err}
}

// attemptTimedOut returns the error of an attempt whose own timeout expired. Contexts derived
// from a fake-clock deadline context report Canceled rather than DeadlineExceeded (see
// clock.WithDeadline), so grpc may say Canceled: the attempt is reported as DeadlineExceeded,
// which it is.
func attemptTimedOut(err error, d time.Duration) error {
	if c := status.Code(err); c == grpccodes.Canceled || c == grpccodes.Unknown {
		return status.Error(grpccodes.DeadlineExceeded, "retry: per-attempt timeout ("+d.String()+") exceeded")
	}
	return err
}
