package redislimit

import (
	"context"
	"errors"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Defaults of ratelimit.RedisConfig's zero values (owned by package ratelimit, whose
// Normalize fills them for configuration).
const (
	DefaultKeyPrefix = ratelimit.DefaultRedisKeyPrefix
	DefaultTimeout   = ratelimit.DefaultRedisTimeout
)

// Reasons carried by LimiterDegraded events.
const (
	ReasonFailOpen   = "fail_open"   // Redis could not be asked; the local guard answered.
	ReasonFailClosed = "fail_closed" // Redis could not be asked; the call was refused.
)

// keyPrefix is what redis_rate puts before every key it is given.
const keyPrefix = "rate:"

// Limiter is a fleet-wide ratelimit.Limiter: every Limiter built with the same name, key
// prefix and limit (rate and burst) against the same Redis draws from one GCRA bucket. It is
// safe for concurrent use.
type Limiter struct {
	name     string
	cfg      ratelimit.Config // ratelimit.Normalize(the Config given), Redis always set
	key      string           // the bucket's Redis key (see Key)
	limit    redis_rate.Limit
	client   redis.UniversalClient
	owned    bool // the Limiter made client and closes it
	timeout  time.Duration
	failOpen bool
	local    *rate.Limiter // the fail-open guard; nil when fail-closed
	clk      clock.Clock
	sink     observe.Sink
	service  string
	probe    time.Duration

	// base is a reading of clk when the Limiter was made. pausedUntil is the time after base,
	// in nanoseconds, until which Redis is not asked after a failure; 0 while Redis answers.
	// It is measured from base (on the monotonic clock, with the real clock's readings), not
	// as a wall time: a step of the system's clock is no time passing.
	base        time.Time
	pausedUntil atomic.Int64
	lastFail    atomic.Pointer[pauseError] // the failure that started the latest pause
	degraded    atomic.Uint64
	trips       atomic.Uint64 // Redis round trips begun (for tests)

	closeOnce sync.Once
	closeErr  error
}

var _ ratelimit.ConnLimiter = (*Limiter)(nil)

// New returns a Limiter named name that dials cfg.Redis.Addr with a client of its own, which
// Close closes. cfg.Redis must be set. The client is tuned to answer within
// cfg.Redis.Timeout: no command retries, one dial attempt, dial, read, write and pool waits
// bounded by the timeout.
//
// No connection is made until the first Take.
func New(name string, cfg ratelimit.Config, opts ...Option) (*Limiter, error) {
	if cfg.Redis == nil {
		return nil, fielderr.New("redis", "", "is not set: a fleet-wide limiter needs a Redis address")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := dial(cfg.Redis.Addr, ratelimit.Normalize(cfg).Redis.Timeout)
	l, err := newLimiter(name, client, cfg, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	l.owned = true
	return l, nil
}

// dial returns a client of the Redis at addr whose every wait is bounded by timeout, with no
// command retries: New's client, and the one a Factory without a client shares between the
// limiters of one address and timeout.
func dial(addr string, timeout time.Duration) *redis.Client {
	return redis.NewClient(dialOptions(addr, timeout))
}

// dialOptions are dial's client's options.
func dialOptions(addr string, timeout time.Duration) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
}

// NewWithClient returns a Limiter named name that asks Redis through client, which stays the
// caller's: Close leaves it open. cfg.Redis may be nil (every RedisConfig default then
// applies); its Addr is ignored.
//
// The client must honour context deadlines (redis.Options.ContextTimeoutEnabled, and no
// ReadTimeout or WriteTimeout of -2, which turns socket deadlines off), or a stalled Redis
// would hold Take past the Redis timeout and the caller's deadline: for a *redis.Client,
// *redis.ClusterClient or *redis.Ring that does not, NewWithClient returns an error. Command
// retries (MaxRetries) and dial retries are the client's own, bounded by the timeout; a
// command retry may run the step's script again after Redis ran it and the connection closed
// before the reply, taking a second token for one call, so give the client MaxRetries: -1
// (see Clients in the package documentation).
func NewWithClient(name string, client redis.UniversalClient, cfg ratelimit.Config, opts ...Option) (*Limiter, error) {
	if isNil(client) {
		return nil, errors.New("redislimit: nil client")
	}
	if err := honoursContext(client); err != nil {
		return nil, err
	}
	check := cfg
	check.Redis = nil
	if err := check.Validate(); err != nil {
		return nil, err
	}
	if cfg.Redis != nil && cfg.Redis.Timeout < 0 {
		return nil, fielderr.New("redis.timeout", cfg.Redis.Timeout, "is negative")
	}
	return newLimiter(name, client, cfg, opts)
}

// isNil reports a nil client: the interface's nil, or a nil pointer of a client type this
// package knows (a client variable left unset), whose options cannot be read.
func isNil(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}

// honoursContext returns an error when c would not bound a round trip by its context's
// deadline: ContextTimeoutEnabled off (the socket deadlines come from the client's own
// timeouts alone), or a ReadTimeout or WriteTimeout of -2, with which go-redis sets no socket
// deadline at all, the context's included. A -1 (no timeout of the client's own) still sets
// the context's deadline.
func honoursContext(c redis.UniversalClient) error {
	var ctxOn, deadlinesOff bool
	switch c := c.(type) {
	case *redis.Client:
		// Options.init has turned -2 into -1, and -1 into 0: a negative timeout here is -2.
		o := c.Options()
		ctxOn, deadlinesOff = o.ContextTimeoutEnabled, o.ReadTimeout < 0 || o.WriteTimeout < 0
	case *redis.ClusterClient:
		// ClusterOptions.init turns -1 into 0 and keeps -2.
		o := c.Options()
		ctxOn, deadlinesOff = o.ContextTimeoutEnabled, o.ReadTimeout < 0 || o.WriteTimeout < 0
	case *redis.Ring:
		// RingOptions are kept as given: -1 (no timeout) is fine, -2 is not.
		o := c.Options()
		ctxOn, deadlinesOff = o.ContextTimeoutEnabled, o.ReadTimeout < -1 || o.WriteTimeout < -1
	default:
		return nil
	}
	if !ctxOn {
		return errors.New("redislimit: the client's ContextTimeoutEnabled is off, so a stalled Redis could hold calls past their deadline")
	}
	if deadlinesOff {
		return errors.New("redislimit: the client's ReadTimeout or WriteTimeout is -2, which sets no socket deadline, so a stalled Redis could hold calls past their deadline")
	}
	return nil
}

func newLimiter(name string, client redis.UniversalClient, cfg ratelimit.Config, opts []Option) (*Limiter, error) {
	if name == "" {
		return nil, errors.New("redislimit: empty limiter name")
	}
	if cfg.Redis == nil {
		cfg.Redis = &ratelimit.RedisConfig{} // every default; Normalize copies it
	}
	cfg = ratelimit.Normalize(cfg)
	limit, err := gcraLimit(cfg.Rate, cfg.Burst)
	if err != nil {
		return nil, err
	}
	s := defaultSettings()
	for _, o := range opts {
		if o.apply != nil {
			o.apply(&s)
		}
	}
	rc := *cfg.Redis
	if s.service == "" {
		s.service = name // the package's own example names a limiter after its service
	}
	l := &Limiter{
		name:     name,
		cfg:      cfg,
		key:      bucketKey(rc.KeyPrefix, name, limit),
		limit:    limit,
		client:   client,
		timeout:  rc.Timeout,
		failOpen: rc.FailOpen,
		clk:      s.clock,
		base:     s.clock.Now(),
		sink:     s.sink,
		service:  s.service,
		probe:    s.probe,
	}
	if l.failOpen {
		l.local = rate.NewLimiter(rate.Limit(cfg.Rate), limit.Burst)
	}
	return l, nil
}

// bucketKey is the Redis key of the bucket of name under prefix and limit: "rate:", prefix and
// name, then ":", limit's emission interval in nanoseconds (a whole number when it is one, else
// the shortest decimal that reads back as the same float64), ":" and its burst. Limiters of
// one name with other limits so keep buckets of their own, and never read each other's TAT
// through their own span. The suffix holds no colon, so a key read from its end gives back
// its name and limit: under one prefix, two names or two limits never make one key.
func bucketKey(prefix, name string, limit redis_rate.Limit) string {
	period, n := int64(limit.Period), int64(limit.Rate)
	var interval string
	if period%n == 0 {
		interval = strconv.FormatInt(period/n, 10)
	} else {
		interval = strconv.FormatFloat(float64(period)/float64(n), 'f', -1, 64)
	}
	return keyPrefix + prefix + name + ":" + interval + ":" + strconv.Itoa(limit.Burst)
}

// MaxRate is the highest rate, in calls per second, of a fleet-wide bucket: the core's
// ratelimit.MaxFleetRate, which says why, and which ratelimit.Config.Validate enforces.
const MaxRate = ratelimit.MaxFleetRate

// gcraLimit expresses rate calls per second with the given burst (0: max(1, ceil(rate))) as a
// redis_rate.Limit, whose rate is a whole number of calls per Period. A whole rate is kept as
// is (10/s is 10 per second); any other is one call per 1/rate, to the nanosecond (0.5/s is
// one per 2s, 2.5/s one per 400ms).
func gcraLimit(r float64, burst int) (redis_rate.Limit, error) {
	if !(r > 0) || math.IsInf(r, 0) {
		return redis_rate.Limit{}, fielderr.New("rate", r, "is not a positive number of calls per second")
	}
	if r > MaxRate {
		return redis_rate.Limit{}, fielderr.New("rate", r, "is above 1e6 calls per second, past which a fleet-wide bucket's times in Redis (float seconds since 2017) are too coarse for its interval")
	}
	burst = ratelimit.Normalize(ratelimit.Config{Rate: r, Burst: burst}).Burst
	if r == math.Trunc(r) && r <= math.MaxInt32 {
		return redis_rate.Limit{Rate: int(r), Burst: burst, Period: time.Second}, nil
	}
	period := math.Round(float64(time.Second) / r)
	if period > float64(100*365*24*time.Hour) {
		return redis_rate.Limit{}, fielderr.New("rate", r, "is below one call per century")
	}
	return redis_rate.Limit{Rate: 1, Burst: burst, Period: time.Duration(period)}, nil
}

// Take implements ratelimit.Limiter. It asks Redis once (bounded by RedisConfig.Timeout and
// ctx); when Redis denies the token and the delay it computed fits within maxWait and ctx's
// deadline, it waits that long on the Limiter's clock and asks again. When Redis cannot be
// asked, the fail mode answers: the local guard (fail-open) or an *UnavailableError
// (fail-closed). When ctx ends first, Take returns ctx.Err(), and a token the round trip it
// left takes in Redis is given back (see the package documentation).
func (l *Limiter) Take(ctx context.Context, maxWait time.Duration) (ratelimit.Decision, error) {
	return l.take(ctx, nil, maxWait)
}

// TakeConn implements ratelimit.ConnLimiter: Take for a call made on cc (nil: none, as Take),
// whose waits (a round trip to Redis; the sleep until the delay Redis computed, before it asks
// again; the fail-open guard's) also end when cc shuts down (ClientConn.Close): it then
// returns ratelimit.ErrConnClosing, as it returns ctx.Err() for a context that ends there, and
// Redis is not blamed. A round trip it leaves goes on as a canceled caller's does, and gives
// back a token it took (see the package documentation).
func (l *Limiter) TakeConn(ctx context.Context, cc *grpc.ClientConn, maxWait time.Duration) (ratelimit.Decision, error) {
	return l.take(ctx, cc, maxWait)
}

// take is Take for a call made on cc (nil: none), whose waits end when cc shuts down.
func (l *Limiter) take(ctx context.Context, cc *grpc.ClientConn, maxWait time.Duration) (ratelimit.Decision, error) {
	if err := ctx.Err(); err != nil {
		return ratelimit.Decision{}, err
	}
	now := l.clk.Now()
	var waitUntil time.Time
	if maxWait > 0 {
		waitUntil = now.Add(maxWait)
	}
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ok, claim := l.mayAsk(now)
		if !ok {
			return l.fail(ctx, cc, now, waitUntil, &timer, l.pauseCause())
		}
		res, fromCaller, err := l.ask(ctx, cc)
		if fromCaller {
			// The caller gave up (its context ended, or cc shut down): Redis is not blamed,
			// and a probe that learned nothing gives the probe back, so that the next call
			// asks Redis instead of the fail mode.
			l.unclaim(claim)
			return ratelimit.Decision{}, err
		}
		if errors.Is(err, errBadState) {
			// Redis answers, but the key's state was unusable: a fault of this call only; the
			// script reset the key, so there is no pause, and a probe's ends.
			l.resume()
			return l.fail(ctx, cc, l.clk.Now(), waitUntil, &timer, err)
		}
		if err != nil {
			now = l.clk.Now()
			l.pause(now, err)
			return l.fail(ctx, cc, now, waitUntil, &timer, err)
		}
		l.resume()
		if res.allowed {
			return ratelimit.Decision{Allowed: true}, nil
		}
		retryAfter := res.retryAfter // > 0: a denial never asks again at once
		now = l.clk.Now()
		if !fits(ctx, now, retryAfter, waitUntil) {
			return ratelimit.Decision{RetryAfter: retryAfter}, nil
		}
		if err := l.sleep(ctx, cc, &timer, retryAfter); err != nil {
			return ratelimit.Decision{}, err
		}
		now = l.clk.Now()
	}
}

// ask makes one round trip, bounded by the Redis timeout and ctx, for a call made on cc (nil:
// none). An error is either the limiter's (fromCaller false: Redis's, the round trip's
// timeout, a bad state) or, only when the caller's context has ended, ctx.Err(), or, only
// when cc has shut down, ratelimit.ErrConnClosing (fromCaller true). A caller's error is never
// reported while ctx and cc are live: the fail mode must answer every limiter fault, and the
// ratelimit policy reads an error other than ctx.Err() and ErrConnClosing as one.
func (l *Limiter) ask(ctx context.Context, cc *grpc.ClientConn) (res verdict, fromCaller bool, err error) {
	l.trips.Add(1)
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, l.timeout)
	res, err = l.roundTrip(ctx, tctx, cc)
	timedOut := err != nil && (tctx.Err() != nil || isTimeout(err))
	cancel()
	switch {
	case err == nil:
		return res, false, nil
	case errors.Is(err, ratelimit.ErrConnClosing):
		return verdict{}, true, err
	case ctx.Err() != nil:
		return verdict{}, true, ctx.Err()
	case !timedOut:
		return verdict{}, false, err
	}
	// The socket deadline, set from the earlier of the two deadlines, may fire a moment before
	// the caller's context reports its own (later still on a busy machine): when the caller's
	// deadline was the earlier and has passed, wait for its context to say so, at most the
	// Redis timeout. A context that does not end in that time leaves the fault the limiter's.
	if dl, ok := ctx.Deadline(); ok && dl.Before(start.Add(l.timeout)) && !time.Now().Before(dl) && ended(ctx, l.timeout) {
		return verdict{}, true, ctx.Err()
	}
	return verdict{}, false, errTimeout
}

// reply is a GCRA step's answer, handed over by roundTrip's goroutine.
type reply struct {
	res verdict
	err error
}

// roundTrip runs one GCRA step under tctx (ctx bounded by the Redis timeout), for a call made
// on cc (nil: none). go-redis bounds a blocked read by its context's deadline only, not by a
// cancel: when ctx can be canceled or cc is given, the step runs on a goroutine of its own (see
// settle), and roundTrip returns as soon as ctx ends (ctx.Err()) or cc shuts down
// (ratelimit.ErrConnClosing) without an answer. The step then goes on until Redis answers or
// tctx's deadline passes (the Redis timeout at most), and a token taken by an answer nobody
// received is given back. An answer handed over as ctx ends or cc shuts down stands: its
// token is the caller's. A round trip that timed out cannot know whether Redis ran its step
// (later, or not at all) and gives nothing back: such a token may go unused.
func (l *Limiter) roundTrip(ctx, tctx context.Context, cc *grpc.ClientConn) (verdict, error) {
	if ctx.Done() == nil && cc == nil { // never canceled, no ClientConn: no goroutine needed
		return gcra(tctx, l.client, l.key, l.limit)
	}
	connDone := ratelimit.ConnDone(cc)
	// Unbuffered: an answer is handed over only to a caller that receives it, so that exactly
	// one of the two owns it.
	ch := make(chan reply)
	go l.settle(tctx, ctx.Done(), connDone, ch)
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
	case <-connDone:
	}
	select {
	case r := <-ch: // handed over as ctx ended or cc shut down: the answer stands
		return r.res, r.err
	default:
	}
	if err := ctx.Err(); err != nil {
		return verdict{}, err
	}
	return verdict{}, ratelimit.ErrConnClosing
}

// settle is roundTrip's goroutine: it runs the GCRA step under tctx and hands the answer over
// on ch, unless the caller has left (done: its context's Done; connDone: its ClientConn's,
// each nil when there is none) by then. The caller receives from ch until it leaves, and the
// hand-over is a rendezvous, so an answer is either received or known to be nobody's: a token
// the step took for nobody is given back in Redis, by a round trip bounded by the Redis
// timeout (tctx's values, not its cancel: the caller's cancel ends tctx as it returns). That
// round trip's failure is nobody's to hear: the token then goes unused.
func (l *Limiter) settle(tctx context.Context, done, connDone <-chan struct{}, ch chan<- reply) {
	res, err := gcra(tctx, l.client, l.key, l.limit)
	select {
	case ch <- reply{res, err}:
		return
	case <-done:
	case <-connDone:
	}
	if err != nil || !res.allowed {
		return // a denial took no token; a failure cannot tell whether it took one
	}
	gctx, cancel := context.WithTimeout(context.WithoutCancel(tctx), l.timeout)
	defer cancel()
	_, _ = giveBack(gctx, l.client, l.key, l.limit)
}

// ended reports whether ctx is done within d (real time: context deadlines are).
func ended(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true
	case <-t.C:
		return ctx.Err() != nil
	}
}

// isTimeout reports a network timeout: the client sets its socket deadlines from the same
// timeout, and they may fire a moment before the context's.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// mayAsk reports whether Redis should be asked now: always while it answers; during the pause
// after a failure, not at all; once the pause is over, for one caller (the probe), whose claim
// starts a new pause that its success ends. claim is the probe's (the pause it started), 0
// when the caller is no probe.
func (l *Limiter) mayAsk(now time.Time) (ok bool, claim int64) {
	until := l.pausedUntil.Load()
	if until == 0 {
		return true, 0
	}
	n := l.since(now)
	if n < until {
		return false, 0
	}
	claim = l.pauseEnd(n)
	if !l.pausedUntil.CompareAndSwap(until, claim) {
		return false, 0
	}
	return true, claim
}

// unclaim gives a probe's claim back when its round trip said nothing about Redis (the
// caller's context ended): the pause is over again, so the next call probes. A claim that a
// failure, a success or another probe has replaced since is left alone.
func (l *Limiter) unclaim(claim int64) {
	if claim != 0 {
		l.pausedUntil.CompareAndSwap(claim, claim-int64(l.probe))
	}
}

// pause starts a pause at now after the round trip that failed with err.
func (l *Limiter) pause(now time.Time, err error) {
	if l.probe > 0 {
		l.lastFail.Store(&pauseError{last: err})
		l.pausedUntil.Store(l.pauseEnd(l.since(now)))
	}
}

// pauseCause is the cause of a refusal during a pause: the pause and the failure that started
// it.
func (l *Limiter) pauseCause() error {
	if p := l.lastFail.Load(); p != nil {
		return p
	}
	return errProbePause
}

// pauseEnd returns when a pause that starts at n (see since) ends: the probe interval later,
// or at the end of time for an interval that would run past it.
func (l *Limiter) pauseEnd(n int64) int64 {
	if int64(l.probe) > math.MaxInt64-n {
		return math.MaxInt64
	}
	return n + int64(l.probe)
}

// since returns now, a reading of l's clock, as nanoseconds after base (see pausedUntil).
func (l *Limiter) since(now time.Time) int64 { return max(int64(now.Sub(l.base)), 0) }

func (l *Limiter) resume() {
	if l.pausedUntil.Load() != 0 {
		l.pausedUntil.Store(0)
	}
}

// fail answers by the fail mode when Redis could not be asked.
func (l *Limiter) fail(ctx context.Context, cc *grpc.ClientConn, now, waitUntil time.Time, timer *clock.Timer, cause error) (ratelimit.Decision, error) {
	l.degraded.Add(1)
	if !l.failOpen {
		l.emit(now, ReasonFailClosed)
		return ratelimit.Decision{}, &UnavailableError{Name: l.name, Err: cause}
	}
	l.emit(now, ReasonFailOpen)
	if l.local.AllowN(now, 1) {
		return ratelimit.Decision{Allowed: true}, nil
	}
	if waitUntil.IsZero() {
		return ratelimit.Decision{RetryAfter: l.guardDelay(now)}, nil
	}
	r := l.local.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return ratelimit.Decision{Allowed: true}, nil
	}
	if !fits(ctx, now, d, waitUntil) {
		r.CancelAt(now)
		return ratelimit.Decision{RetryAfter: d}, nil
	}
	if err := l.sleep(ctx, cc, timer, d); err != nil {
		r.CancelAt(l.clk.Now())
		return ratelimit.Decision{}, err
	}
	return ratelimit.Decision{Allowed: true}, nil
}

// guardDelay is how long until the local guard holds a token, rounded up to the nanosecond.
func (l *Limiter) guardDelay(now time.Time) time.Duration {
	need := 1 - l.local.TokensAt(now)
	if need <= 0 {
		return 0
	}
	ns := need / float64(l.local.Limit()) * float64(time.Second)
	if r := math.Round(ns); math.Abs(ns-r) < 1e-3 { // float error, not a real fraction
		return time.Duration(r)
	}
	return time.Duration(math.Ceil(ns))
}

func (l *Limiter) emit(now time.Time, reason string) {
	if l.sink == nil {
		return
	}
	l.sink.Observe(observe.Event{
		Kind:    observe.LimiterDegraded,
		Time:    now,
		Service: l.service,
		Policy:  observe.PolicyRateLimit,
		Reason:  reason,
	})
}

// fits reports whether a wait of d from now ends by waitUntil (zero: no wait allowed) and by
// ctx's deadline.
func fits(ctx context.Context, now time.Time, d time.Duration, waitUntil time.Time) bool {
	if waitUntil.IsZero() {
		return false
	}
	end := now.Add(d)
	if end.After(waitUntil) {
		return false
	}
	if dl, ok := ctx.Deadline(); ok && !end.Before(dl) { // at the deadline the call has no time
		return false
	}
	return true
}

// sleep waits d on the Limiter's clock, reusing *t across the waits of one Take, until ctx
// ends (ctx.Err()) or cc (nil: none) shuts down (ratelimit.ErrConnClosing) if sooner.
func (l *Limiter) sleep(ctx context.Context, cc *grpc.ClientConn, t *clock.Timer, d time.Duration) error {
	if *t == nil {
		*t = l.clk.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-(*t).C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-ratelimit.ConnDone(cc):
		return ratelimit.ErrConnClosing
	}
}

// Degraded returns how many Take calls the fail mode answered because Redis could not be
// asked (each also emits a LimiterDegraded event).
func (l *Limiter) Degraded() uint64 { return l.degraded.Load() }

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

// Config returns the configuration the limiter runs with: the one given to New or
// NewWithClient with its defaults filled in (see ratelimit.Normalize), Redis always set (a
// copy: changing it changes nothing).
func (l *Limiter) Config() ratelimit.Config {
	cfg := l.cfg
	rc := *cfg.Redis
	cfg.Redis = &rc
	return cfg
}

// Key returns the Redis key holding the bucket: "rate:" (redis_rate's own prefix), then the
// key prefix, then the name, then the limit: ":", the emission interval in nanoseconds, ":",
// the burst (see the package documentation's Key layout).
func (l *Limiter) Key() string { return l.key }

// Close closes the Redis client when New made it; a client given to NewWithClient stays open.
// Take after Close answers by the fail mode.
func (l *Limiter) Close() error {
	if !l.owned {
		return nil
	}
	l.closeOnce.Do(func() { l.closeErr = l.client.Close() })
	return l.closeErr
}
