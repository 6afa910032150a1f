package hedge

import (
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
)

// Defaults filled in by New for zero fields of Config.
const (
	DefaultMaxAttempts = 2
	DefaultDelay       = 100 * time.Millisecond
	DefaultPercentile  = 0.95
	// DefaultMedianMultiple caps the adaptive delay at 3 times the median latency.
	DefaultMedianMultiple = 3
	DefaultMinDelay       = time.Millisecond
	DefaultWindow         = 500
	DefaultMinSamples     = 50
)

// DefaultReplayBufferBytes is Config.ReplayBufferBytes's default, as retry's.
const DefaultReplayBufferBytes = attempt.DefaultReplayBytes

// ReplayBufferBytes is the default bound of the request messages (by proto.Size, plus 5 a
// message) a client stream keeps for replay to its hedges.
//
// Deprecated: the bound is Config.ReplayBufferBytes; this is its default,
// DefaultReplayBufferBytes.
const ReplayBufferBytes = DefaultReplayBufferBytes

// PreviousAttemptsKey is the outgoing metadata key that tells the server, on each attempt
// after the first, how many attempts of the call were sent before it: gRFC A6's header, which
// grpc-go passes through from metadata. Alone, a policy's hedges carry 1, 2, ...; under a
// retry loop (package retry), the attempts are numbered over the retries and their hedges
// alike. The first attempt does not carry it.
const PreviousAttemptsKey = attempt.PreviousKey

// MaxHedgeShare bounds the hedges of one method of a Policy that lose (do not win the call:
// another attempt, sent before or after them, wins it, or they fail retryably) to this share
// of its calls, plus HedgeBurst. Each call adds MaxHedgeShare of a hedge to the method's
// allowance (up to HedgeBurst), each hedge takes one, a hedge that wins (or is refused on this
// side of the wire) gives it back, and a hedge the allowance cannot pay is not sent (nor any
// further hedge of that call).
//
// It caps the extra load hedging can add before the delay has learnt a change: a service that
// suddenly slows down for everyone reaches the delay on every call until its median moves, up
// to half a Window of calls, and the retry budget alone would let a hedge go on each of them,
// up to its ratio plus what the calls before the change left in it. Such hedges lose (the
// first attempt, as slow as they are, started earlier), so with the cap at most a quarter more
// requests go. Hedges that win are what hedging is for, a spike cut short: they are not
// limited here, only by MaxAttempts and the retry budget, so that spikes are hedged at any rate
// even when CPU stalls of the client have made many other hedges lose.
const MaxHedgeShare = 0.25

// HedgeBurst is how many hedges a method's allowance holds at most, and at start. It is sized
// for a stall of the client (a GC pause, a busy CPU): every call in flight reaches the delay at
// once and its hedge loses, and the allowance must outlast that, or the spikes right after it
// would go unhedged. Twice 16 calls in flight (the orchestrator's concurrency) of one method,
// and a cold start may hedge its first calls, before any has been counted.
const HedgeBurst = 32

// allowance is one method's hedge allowance (see MaxHedgeShare), in thousandths of a hedge:
// an atomic counter, so that a call's deposit and a hedge's withdrawal allocate nothing and
// take no lock.
type allowance struct{ milli atomic.Int64 }

const (
	shareMilli = int64(MaxHedgeShare * 1000)
	burstMilli = HedgeBurst * 1000
)

// deposit counts one call.
func (a *allowance) deposit() {
	for {
		old := a.milli.Load()
		next := min(old+shareMilli, burstMilli)
		if next == old || a.milli.CompareAndSwap(old, next) {
			return
		}
	}
}

// refund gives back what a hedge that won took.
func (a *allowance) refund() {
	for {
		old := a.milli.Load()
		next := min(old+1000, burstMilli)
		if next == old || a.milli.CompareAndSwap(old, next) {
			return
		}
	}
}

// take pays for one hedge, when the allowance holds one.
func (a *allowance) take() bool {
	for {
		old := a.milli.Load()
		if old < 1000 {
			return false
		}
		if a.milli.CompareAndSwap(old, old-1000) {
			return true
		}
	}
}

// maxAttempts is the cap Validate puts on Config.MaxAttempts.
const maxAttempts = 5

// maxLearnt is how many full method names a Policy learns a delay of its own for: far above
// the methods an API has, and a bound on what names from input (a generic proxy) can make it
// keep, an estimator of Config.Window latencies each (8 KB at the default 500). The names
// past it learn one delay together.
const maxLearnt = 1024

// Policy hedges calls as its Config says. A Policy is safe for concurrent use; its adaptive
// delays are learnt per full method and shared by every call made through it (see the
// package documentation for the names past the first 1024).
type Policy struct {
	cfg   Config
	s     settings
	fixed bool // the delay is Config.Delay, not learnt

	methods attempt.Methods[*methodInfo]
	replay  int // the replay buffer's cap, Config.ReplayBufferBytes with its default

	// learnt counts the estimators newMethod made, up to maxLearnt; past it, names take
	// others, made once.
	learnt atomic.Int64
	others atomic.Pointer[estimator]

	// unkept is the hedge allowance of the names not kept, whose methodInfo is made on every
	// call: those too long to be kept, and those past the cowmap.MaxKeys names the table
	// keeps. They share it, as they share a learnt delay.
	unkept allowance
	// owned counts the allowances of their own newMethod gave keepable names: the table keeps
	// each of the first cowmap.MaxKeys, and keeps none past them (see attempt.Methods).
	owned atomic.Int64
}

// methodInfo is what the policy knows of one full method name.
type methodInfo struct {
	attempt.Method
	est    *estimator // nil when the delay is fixed
	hedges *allowance // see MaxHedgeShare: own, or the Policy's unkept
	own    allowance
}

// New returns a hedging policy for cfg, with the zero fields of cfg set to their defaults.
// It returns the error of cfg.Validate when cfg is out of range.
func New(cfg Config, opts ...Option) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fixed := cfg.Percentile == 0 && cfg.Delay > 0
	cfg = Normalize(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{
		cfg:   cfg,
		fixed: fixed,
		s:     settings{Base: attempt.NewBase()},
	}
	p.replay = cfg.ReplayBufferBytes
	p.unkept.milli.Store(burstMilli)
	for _, o := range opts {
		p.s.apply(o)
	}
	if err := optkit.CheckTypedNil(p.s.Clock, p.s.Sink); err != nil {
		return nil, err
	}
	return p, nil
}

// Config returns the policy's configuration with defaults filled in.
func (p *Policy) Config() Config { return p.cfg }

// Delay returns the hedging delay a call of the full method would use now: Config.Delay when
// the delay is fixed; when it is adaptive, the learnt one, or Config.Delay kept within
// [MinDelay, MaxDelay] while no latency of the method is known yet. Asking learns nothing: a
// name no call has used yet is not kept.
func (p *Policy) Delay(method string) time.Duration {
	if p.fixed {
		return p.cfg.Delay
	}
	if m, ok := p.methods.Lookup(method); ok {
		return m.est.current()
	}
	// Not kept: what its first call would find (see estimatorFor), a fresh estimator's
	// starting delay, or the one the names past the first maxLearnt share.
	if grpcmethod.Keepable(method) && p.learnt.Load() < maxLearnt {
		return startDelay(p.cfg)
	}
	if e := p.others.Load(); e != nil {
		return e.current()
	}
	return startDelay(p.cfg)
}

// delay is Delay for a known method.
func (p *Policy) delay(m *methodInfo) time.Duration {
	if m.est == nil {
		return p.cfg.Delay
	}
	return m.est.current()
}

// method returns what the policy knows of a full method name, learning it on first use.
func (p *Policy) method(name string) *methodInfo {
	return p.methods.Get(name, p.newMethod)
}

func (p *Policy) newMethod(name string) *methodInfo {
	m := &methodInfo{Method: attempt.NewMethod(name)}
	if !p.fixed {
		m.est = p.estimatorFor(name)
	}
	// newMethod runs once for each name the table keeps, and on every call of a name it does
	// not: one too long, or past the cowmap.MaxKeys it keeps. A fresh allowance made on every
	// call would let every call of such a name hedge: they share one.
	if grpcmethod.Keepable(name) && p.owned.Load() < cowmap.MaxKeys && p.owned.Add(1) <= cowmap.MaxKeys {
		m.hedges = &m.own
		m.own.milli.Store(burstMilli)
	} else {
		m.hedges = &p.unkept
	}
	return m
}

// estimatorFor returns the estimator of a name newMethod is making: one of its own for the
// first maxLearnt names, else the one the names past them share. A name too long to be kept
// (grpcmethod.MaxKeptName), whose methodInfo is made on every call, shares that one too and
// takes none of the first maxLearnt.
func (p *Policy) estimatorFor(name string) *estimator {
	if grpcmethod.Keepable(name) && p.learnt.Load() < maxLearnt && p.learnt.Add(1) <= maxLearnt {
		return newEstimator(p.cfg)
	}
	if e := p.others.Load(); e != nil {
		return e
	}
	p.others.CompareAndSwap(nil, newEstimator(p.cfg))
	return p.others.Load()
}

// eligible reports whether the idempotency rule lets the call be hedged at all.
func (p *Policy) eligible(m *methodInfo, c *attempt.PerCall) bool {
	return attempt.Eligible(m.Safe, p.cfg.Idempotent, c.Idempotent)
}
