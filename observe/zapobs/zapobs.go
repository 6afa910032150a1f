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
	kind  observe.Kind
	level zapcore.Level
	msg   string
}

var lines = [...]line{
	{observe.AttemptFinished, zapcore.DebugLevel, MsgAttemptFinished},
	{observe.CallFinished, zapcore.DebugLevel, MsgCallFinished},
	{observe.RetryScheduled, zapcore.WarnLevel, MsgRetryScheduled},
	{observe.RetriesExhausted, zapcore.ErrorLevel, MsgRetriesExhausted},
	{observe.BreakerStateChanged, zapcore.InfoLevel, MsgBreakerChanged},
	{observe.Rejected, zapcore.WarnLevel, MsgRejected},
	{observe.FallbackServed, zapcore.InfoLevel, MsgFallbackServed},
	{observe.DeadlineApplied, zapcore.DebugLevel, MsgDeadlineApplied},
	{observe.LimiterDegraded, zapcore.WarnLevel, MsgLimiterDegraded},
	{observe.HedgeSent, zapcore.DebugLevel, MsgHedgeSent},
	{observe.HedgeWon, zapcore.DebugLevel, MsgHedgeWon},
	{observe.LimitChanged, zapcore.InfoLevel, MsgLimitChanged},
}

var messages = func() (m [numKinds]string) {
	for _, l := range lines {
		m[l.kind] = l.msg
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
	lvl := s.levels[e.Kind]
	if lvl == off {
		return
	}
	ce := s.log.Check(lvl, messages[e.Kind])
	if ce == nil {
		return
	}
	if !e.Time.IsZero() {
		ce.Time = e.Time
	}
	switch e.Kind {
	case observe.AttemptFinished:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.Int("attempt", e.Attempt),
			zap.String("code", e.Code.String()),
			zap.String("class", e.Class.String()),
			zap.Duration("duration", e.Duration),
		)
	case observe.CallFinished:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.Int("attempts", e.Attempt),
			zap.String("code", e.Code.String()),
			zap.String("class", e.Class.String()),
			zap.Duration("duration", e.Duration),
		)
	case observe.RetryScheduled:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.Int("attempt", e.Attempt),
			zap.String("code", e.Code.String()),
			zap.String("class", e.Class.String()),
			zap.Duration("delay", e.Delay),
		)
	case observe.RetriesExhausted:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.Int("attempts", e.Attempt),
			zap.String("code", e.Code.String()),
			zap.String("class", e.Class.String()),
			zap.String("reason", e.Reason),
			zap.Duration("elapsed", e.Duration),
		)
	case observe.BreakerStateChanged:
		// method only for a method-scoped breaker; open_for only on opening.
		fs := [...]zap.Field{
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.String("from", e.From),
			zap.String("to", e.To),
			zap.String("reason", e.Reason),
			zap.Duration("open_for", e.Delay),
		}
		first, end := 0, len(fs)
		if e.Method == "" {
			fs[1], first = fs[0], 1
		}
		if e.To != "open" {
			end--
		}
		ce.Write(fs[first:end]...)
	case observe.Rejected:
		// The adaptive throttle cannot say when to come back; it says how likely a rejection is.
		last := zap.Duration("retry_after", e.Delay)
		if e.Policy == observe.PolicyAdaptiveThrottle {
			last = zap.Float64("probability", e.Value)
		}
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.String("policy", e.Policy),
			zap.String("reason", e.Reason),
			zap.String("code", e.Code.String()),
			last,
		)
	case observe.FallbackServed:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.String("code", e.Code.String()),
			zap.String("class", e.Class.String()),
		)
	case observe.DeadlineApplied:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.Duration("timeout", e.Delay),
			zap.String("reason", e.Reason),
		)
	case observe.LimiterDegraded:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.String("reason", e.Reason),
		)
	case observe.HedgeSent:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.Int("attempt", e.Attempt),
			zap.String("reason", e.Reason),
			zap.Duration("after", e.Delay),
		)
	case observe.HedgeWon:
		ce.Write(
			zap.String("service", e.Service),
			zap.String("method", e.Method),
			zap.Int("attempt", e.Attempt),
			zap.String("code", e.Code.String()),
			zap.Duration("duration", e.Duration),
		)
	case observe.LimitChanged:
		ce.Write(
			zap.String("service", e.Service),
			zap.Int("limit", int(e.Value)),
			zap.String("algorithm", e.Reason),
			zap.Duration("latency", e.Duration),
		)
	}
}
