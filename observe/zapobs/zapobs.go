package zapobs

import (
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Messages of the lines zapobs writes.
const (
	MsgAttemptFinished  = "attempt finished"
	MsgCallFinished     = "call finished"
	MsgRetryScheduled   = "retry scheduled"
	MsgRetriesExhausted = "retries exhausted"
	MsgBreakerChanged   = "breaker state changed"
	MsgRejected         = "call rejected"
	MsgFallbackServed   = "fallback served"
	MsgDeadlineApplied  = "deadline applied"
	MsgLimiterDegraded  = "rate limiter degraded"
	MsgHedgeSent        = "hedge sent"
	MsgHedgeWon         = "hedge won"
	MsgLimitChanged     = "concurrency limit changed"
)

// line is one row of the table in the package documentation.
type line struct {
	kind   observe.Kind
	level  zapcore.Level
	msg    string
	fields []field
}

var lines = [...]line{
	{observe.AttemptFinished, zapcore.DebugLevel, MsgAttemptFinished, []field{fService, fMethod, fAttempt, fCode, fClass, fDuration}},
	{observe.CallFinished, zapcore.DebugLevel, MsgCallFinished, []field{fService, fMethod, fAttempts, fCode, fClass, fDuration}},
	{observe.RetryScheduled, zapcore.WarnLevel, MsgRetryScheduled, []field{fService, fMethod, fAttempt, fCode, fClass, fDelay}},
	{observe.RetriesExhausted, zapcore.ErrorLevel, MsgRetriesExhausted, []field{fService, fMethod, fAttempts, fCode, fClass, fReason, fElapsed}},
	{observe.BreakerStateChanged, zapcore.InfoLevel, MsgBreakerChanged, []field{fService, fScopedMethod, fFrom, fTo, fReason, fOpenFor}},
	{observe.Rejected, zapcore.WarnLevel, MsgRejected, []field{fService, fMethod, fPolicy, fReason, fCode, fRetryAfter}},
	{observe.FallbackServed, zapcore.InfoLevel, MsgFallbackServed, []field{fService, fMethod, fCode, fClass}},
	{observe.DeadlineApplied, zapcore.DebugLevel, MsgDeadlineApplied, []field{fService, fMethod, fTimeout, fReason}},
	{observe.LimiterDegraded, zapcore.WarnLevel, MsgLimiterDegraded, []field{fService, fMethod, fReason}},
	{observe.HedgeSent, zapcore.DebugLevel, MsgHedgeSent, []field{fService, fMethod, fAttempt, fReason, fAfter}},
	{observe.HedgeWon, zapcore.DebugLevel, MsgHedgeWon, []field{fService, fMethod, fAttempt, fCode, fDuration}},
	{observe.LimitChanged, zapcore.InfoLevel, MsgLimitChanged, []field{fService, fLimit, fAlgorithm, fLatency}},
}

// maxFields is the most fields a line has.
const maxFields = 7

// field is one field of a line: its key, the event field it shows and when (the table of
// fields in the package documentation).
type field struct {
	key  string
	val  value
	when when
}

// value names the event field a line's field shows.
type value uint8

const (
	vService value = iota
	vMethod
	vPolicy
	vAttempt
	vCode
	vClass
	vReason
	vDuration
	vDelay
	vFrom
	vTo
	vLimit      // Value, as an int
	vRetryAfter // Delay, or the probability (Value) on a rejection by the adaptive throttle
)

// when says which events a field is written for.
type when uint8

const (
	always     when = iota
	withMethod      // the event names a method: on a breaker line, a method-scoped breaker
	toOpen          // the event is a breaker's transition to open
)

var (
	fService      = field{"service", vService, always}
	fMethod       = field{"method", vMethod, always}
	fScopedMethod = field{"method", vMethod, withMethod}
	fPolicy       = field{"policy", vPolicy, always}
	fAttempt      = field{"attempt", vAttempt, always}
	fAttempts     = field{"attempts", vAttempt, always}
	fCode         = field{"code", vCode, always}
	fClass        = field{"class", vClass, always}
	fReason       = field{"reason", vReason, always}
	fAlgorithm    = field{"algorithm", vReason, always}
	fDuration     = field{"duration", vDuration, always}
	fElapsed      = field{"elapsed", vDuration, always}
	fLatency      = field{"latency", vDuration, always}
	fDelay        = field{"delay", vDelay, always}
	fTimeout      = field{"timeout", vDelay, always}
	fAfter        = field{"after", vDelay, always}
	fOpenFor      = field{"open_for", vDelay, toOpen}
	fFrom         = field{"from", vFrom, always}
	fTo           = field{"to", vTo, always}
	fLimit        = field{"limit", vLimit, always}
	fRetryAfter   = field{"retry_after", vRetryAfter, always}
)

// of returns f's zap field for e, and false when e's line leaves f out.
func (f field) of(e *observe.Event) (zap.Field, bool) {
	switch {
	case f.when == withMethod && e.Method == "", f.when == toOpen && e.To != "open":
		return zap.Skip(), false
	}
	switch f.val {
	case vService:
		return zap.String(f.key, e.Service), true
	case vMethod:
		return zap.String(f.key, e.Method), true
	case vPolicy:
		return zap.String(f.key, e.Policy), true
	case vAttempt:
		return zap.Int(f.key, e.Attempt), true
	case vCode:
		return zap.String(f.key, e.Code.String()), true
	case vClass:
		return zap.String(f.key, e.Class.String()), true
	case vReason:
		return zap.String(f.key, e.Reason), true
	case vDuration:
		return zap.Duration(f.key, e.Duration), true
	case vDelay:
		return zap.Duration(f.key, e.Delay), true
	case vFrom:
		return zap.String(f.key, e.From), true
	case vTo:
		return zap.String(f.key, e.To), true
	case vLimit:
		return zap.Int(f.key, int(e.Value)), true
	case vRetryAfter:
		// The adaptive throttle cannot say when to come back; it says how likely a rejection is.
		if e.Policy == observe.PolicyAdaptiveThrottle {
			return zap.Float64("probability", e.Value), true
		}
		return zap.Duration(f.key, e.Delay), true
	}
	return zap.Skip(), false
}

var byKind = func() (m [numKinds]*line) {
	for i := range lines {
		if len(lines[i].fields) > maxFields {
			panic("zapobs: a line has more than maxFields fields")
		}
		m[lines[i].kind] = &lines[i]
	}
	return m
}()

// never enables no level: no stack traces.
var never = zap.LevelEnablerFunc(func(zapcore.Level) bool { return false })

// sink writes bulwark events as structured zap log lines.
type sink struct {
	log    *zap.Logger
	levels [numKinds]zapcore.Level
}

// New returns an observe.Sink writing to logger, at the levels of the table in the package
// documentation unless WithLevel says otherwise. The lines carry neither the caller nor a stack
// trace, whatever logger's options: both would point into zapobs, not at the failing call. A nil
// logger gives a sink that writes nothing. The sink is safe for concurrent use, as the
// zap.Logger it wraps is.
func New(logger *zap.Logger, opts ...Option) observe.Sink {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	return &sink{
		log:    logger.WithOptions(zap.WithCaller(false), zap.AddStacktrace(never)),
		levels: cfg.levels,
	}
}

// Observe implements observe.Sink. It writes the event's line if its level is enabled; when it
// is not, Observe builds no field and allocates nothing. Events of an unknown kind are ignored.
func (s *sink) Observe(e observe.Event) {
	if int(e.Kind) <= 0 || int(e.Kind) >= numKinds {
		return
	}
	lvl, l := s.levels[e.Kind], byKind[e.Kind]
	if lvl == off || l == nil {
		return
	}
	ce := s.log.Check(lvl, l.msg)
	if ce == nil {
		return
	}
	if !e.Time.IsZero() {
		ce.Time = e.Time
	}
	var fs [maxFields]zap.Field
	n := 0
	for _, f := range l.fields {
		if zf, ok := f.of(&e); ok {
			fs[n] = zf
			n++
		}
	}
	ce.Write(fs[:n]...)
}
