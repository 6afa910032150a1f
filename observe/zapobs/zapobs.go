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

// field is one field of a line: its key and the event field it shows (the table of fields in
// the package documentation).
type field uint8

const (
	fService field = iota
	fMethod
	fScopedMethod // method, on a breaker line only for a method-scoped breaker
	fPolicy
	fAttempt
	fAttempts
	fCode
	fClass
	fReason
	fDuration
	fElapsed
	fDelay
	fTimeout
	fAfter
	fLatency
	fFrom
	fTo
	fOpenFor    // only on a line to open
	fRetryAfter // probability in its place on a rejection by the adaptive throttle
	fLimit
	fAlgorithm
)

// of returns f's zap field for e, and false when e's line leaves f out.
func (f field) of(e *observe.Event) (zap.Field, bool) {
	switch f {
	case fService:
		return zap.String("service", e.Service), true
	case fMethod:
		return zap.String("method", e.Method), true
	case fScopedMethod:
		return zap.String("method", e.Method), e.Method != ""
	case fPolicy:
		return zap.String("policy", e.Policy), true
	case fAttempt:
		return zap.Int("attempt", e.Attempt), true
	case fAttempts:
		return zap.Int("attempts", e.Attempt), true
	case fCode:
		return zap.String("code", e.Code.String()), true
	case fClass:
		return zap.String("class", e.Class.String()), true
	case fReason:
		return zap.String("reason", e.Reason), true
	case fDuration:
		return zap.Duration("duration", e.Duration), true
	case fElapsed:
		return zap.Duration("elapsed", e.Duration), true
	case fDelay:
		return zap.Duration("delay", e.Delay), true
	case fTimeout:
		return zap.Duration("timeout", e.Delay), true
	case fAfter:
		return zap.Duration("after", e.Delay), true
	case fLatency:
		return zap.Duration("latency", e.Duration), true
	case fFrom:
		return zap.String("from", e.From), true
	case fTo:
		return zap.String("to", e.To), true
	case fOpenFor:
		return zap.Duration("open_for", e.Delay), e.To == "open"
	case fRetryAfter:
		// The adaptive throttle cannot say when to come back; it says how likely a rejection is.
		if e.Policy == observe.PolicyAdaptiveThrottle {
			return zap.Float64("probability", e.Value), true
		}
		return zap.Duration("retry_after", e.Delay), true
	case fLimit:
		return zap.Int("limit", int(e.Value)), true
	case fAlgorithm:
		return zap.String("algorithm", e.Reason), true
	}
	return zap.Skip(), false
}

var byKind = func() (m [numKinds]*line) {
	for i := range lines {
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
