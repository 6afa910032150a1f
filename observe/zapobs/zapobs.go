package zapobs

import (
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/breakerstates"
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
	MsgHedgeRejected    = "hedge rejected"
	MsgFallbackServed   = "fallback served"
	MsgDeadlineApplied  = "deadline applied"
	MsgLimiterDegraded  = "rate limiter degraded"
	MsgHedgeSent        = "hedge sent"
	MsgHedgeWon         = "hedge won"
	MsgLimitChanged     = "concurrency limit changed"
	MsgRetired          = "policy object retired"
	MsgBreakerPublished = "breaker published"
	MsgAttemptSpared    = "attempt spared"
)

// line is one row of the table in the package documentation.
type line struct {
	kind   observe.Kind
	level  zapcore.Level
	msg    string
	fields []field
	// breaker says the line ends with the breaker field, the state of the breaker guarding
	// the call, when zapobs knows it (for an AttemptFinished line, only when the attempt failed).
	breaker bool
}

var lines = [...]line{
	{observe.AttemptFinished, zapcore.DebugLevel, MsgAttemptFinished, []field{fService, fMethod, fAttempt, fCode, fClass, fDuration}, true},
	{observe.CallFinished, zapcore.DebugLevel, MsgCallFinished, []field{fService, fMethod, fAttempts, fCode, fClass, fDuration}, false},
	{observe.RetryScheduled, zapcore.WarnLevel, MsgRetryScheduled, []field{fService, fMethod, fAttempt, fCode, fClass, fDelay, fPushback}, true},
	{observe.RetriesExhausted, zapcore.ErrorLevel, MsgRetriesExhausted, []field{fService, fMethod, fAttempts, fCode, fClass, fReason, fElapsed}, true},
	{observe.BreakerStateChanged, zapcore.InfoLevel, MsgBreakerChanged, []field{fService, fScopedMethod, fFrom, fTo, fReason, fOpenFor, fLastFrom, fFoldedTrips, fFoldedReopens}, false},
	{observe.Rejected, zapcore.WarnLevel, MsgRejected, []field{fService, fMethod, fPolicy, fReason, fCode, fRetryAfter}, true},
	{observe.FallbackServed, zapcore.InfoLevel, MsgFallbackServed, []field{fService, fMethod, fCode, fClass, fRefusal}, false},
	{observe.DeadlineApplied, zapcore.DebugLevel, MsgDeadlineApplied, []field{fService, fMethod, fTimeout, fReason}, false},
	{observe.LimiterDegraded, zapcore.WarnLevel, MsgLimiterDegraded, []field{fService, fScopedMethod, fReason}, false},
	{observe.HedgeSent, zapcore.DebugLevel, MsgHedgeSent, []field{fService, fMethod, fAttempt, fReason, fAfter}, false},
	{observe.HedgeWon, zapcore.DebugLevel, MsgHedgeWon, []field{fService, fMethod, fAttempt, fCode, fDuration}, false},
	{observe.LimitChanged, zapcore.InfoLevel, MsgLimitChanged, []field{fService, fScopedMethod, fLimit, fAlgorithm, fLatency}, false},
	{observe.Retired, zapcore.InfoLevel, MsgRetired, []field{fService, fScopedMethod, fPolicy}, false},
	{observe.BreakerPublished, zapcore.DebugLevel, MsgBreakerPublished, []field{fService, fScopedMethod, fState}, false},
	{observe.AttemptSpared, zapcore.WarnLevel, MsgAttemptSpared, []field{fService, fMethod, fAttempt, fTimeout}, false},
}

// hedgeRejected is the line of a Rejected event with an Attempt: a hedge that a policy below
// the hedging one refused while the call went on without it, which the hedging policy tells
// the call's sink (observe.WithCallSink) alone. It is written at the level of Rejected lines.
var hedgeRejected = line{observe.Rejected, zapcore.WarnLevel, MsgHedgeRejected,
	[]field{fService, fMethod, fAttempt, fPolicy, fReason, fCode, fRetryAfter}, true}

// maxFields is the most fields a line has, its breaker field included.
const maxFields = 9

// field is one field of a line: its key, how it shows the event and when (the table of
// fields in the package documentation).
type field struct {
	key  string
	val  value
	when when
}

// value makes a line's field under key from the event field it shows.
type value func(key string, e *observe.Event) zap.Field

func vService(k string, e *observe.Event) zap.Field  { return zap.String(k, observe.Clip(e.Service)) }
func vMethod(k string, e *observe.Event) zap.Field   { return zap.String(k, observe.Clip(e.Method)) }
func vPolicy(k string, e *observe.Event) zap.Field   { return zap.String(k, e.Policy) }
func vAttempt(k string, e *observe.Event) zap.Field  { return zap.Int(k, e.Attempt) }
func vCode(k string, e *observe.Event) zap.Field     { return zap.String(k, e.Code.String()) }
func vClass(k string, e *observe.Event) zap.Field    { return zap.String(k, e.Class.String()) }
func vReason(k string, e *observe.Event) zap.Field   { return zap.String(k, e.Reason) }
func vDuration(k string, e *observe.Event) zap.Field { return zap.Duration(k, e.Duration) }
func vDelay(k string, e *observe.Event) zap.Field    { return zap.Duration(k, e.Delay) }
func vFrom(k string, e *observe.Event) zap.Field     { return zap.String(k, e.From) }
func vTo(k string, e *observe.Event) zap.Field       { return zap.String(k, e.To) }
func vLimit(k string, e *observe.Event) zap.Field    { return zap.Int(k, int(e.Value)) }
func vLastFrom(k string, e *observe.Event) zap.Field {
	return zap.String(k, e.LastFrom.String())
}
func vFoldedTrips(k string, e *observe.Event) zap.Field {
	return zap.Int(k, int(e.FoldedTrips))
}
func vFoldedReopens(k string, e *observe.Event) zap.Field {
	return zap.Int(k, int(e.FoldedReopens))
}

// vRetryAfter is Delay, or the probability (Value) on a rejection by the adaptive throttle,
// which cannot say when to come back; it says how likely a rejection is.
func vRetryAfter(k string, e *observe.Event) zap.Field {
	if e.Policy == observe.PolicyAdaptiveThrottle {
		return zap.Float64("probability", e.Value)
	}
	return zap.Duration(k, e.Delay)
}

// when says which events a field is written for.
type when uint8

const (
	always        when = iota
	withMethod         // the event names a method (a method-scoped breaker; a limit line, see the package doc)
	toOpen             // the event is a breaker's transition to open
	pushback           // the event's Reason is observe.ReasonPushback: the server chose the delay
	refusal            // the event is of a policy's refusal (class rejected) and has a Reason
	lastFrom           // the event tells the from of a breaker's last change (LastFrom): a folded one
	foldedTrips        // the event's FoldedTrips is not 0: a breaker folded trips into it
	foldedReopens      // the event's FoldedReopens is not 0: a breaker folded reopens into it
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
	// A breaker's line that stands for several changes, folded while the sink was held: the
	// from of the last of them (from is the first change's); the transitions to open among
	// them that its own, last, change is not.
	fLastFrom      = field{"last_from", vLastFrom, lastFrom}
	fFoldedTrips   = field{"folded_trips", vFoldedTrips, foldedTrips}
	fFoldedReopens = field{"folded_reopens", vFoldedReopens, foldedReopens}
	fPushback      = field{"reason", vReason, pushback}
	fRefusal       = field{"reason", vReason, refusal}
	fFrom          = field{"from", vFrom, always}
	fTo            = field{"to", vTo, always}
	fState         = field{"state", vTo, always}
	fLimit         = field{"limit", vLimit, always}
	fRetryAfter    = field{"retry_after", vRetryAfter, always}
)

// of returns f's zap field for e, and false when e's line leaves f out.
func (f field) of(e *observe.Event) (zap.Field, bool) {
	if f.when == withMethod && e.Method == "" || f.when == toOpen && e.To != "open" ||
		f.when == pushback && e.Reason != observe.ReasonPushback || f.when == refusal && (e.Class != codes.Rejected || e.Reason == "") ||
		f.when == lastFrom && e.LastFrom.String() == "" ||
		f.when == foldedTrips && e.FoldedTrips == 0 || f.when == foldedReopens && e.FoldedReopens == 0 {
		return zap.Skip(), false
	}
	return f.val(f.key, e), true
}

var byKind = func() (m [numKinds]*line) {
	for i := range lines {
		checkFields(&lines[i])
		m[lines[i].kind] = &lines[i]
	}
	checkFields(&hedgeRejected)
	return m
}()

func checkFields(l *line) {
	if n := len(l.fields); n > maxFields || l.breaker && n >= maxFields {
		panic("zapobs: a line has more than maxFields fields")
	}
}

// The breaker states whose lines are written at the opened level (breaker.Open.String(),
// breaker.ForcedOpen.String(): zapobs does not import the breaker), and half_open
// (breaker.HalfOpen.String()), of the probe lines with open.
const (
	stateOpen       = "open"
	stateForcedOpen = "forced_open"
	stateHalfOpen   = "half_open"
)

// probeLine reports whether e, a BreakerStateChanged, is a probe line (WithProbeLevel): one
// change, open → half_open or half_open → open.
func probeLine(e *observe.Event) bool {
	if e.LastFrom != observe.LastFromShown || e.FoldedTrips != 0 || e.FoldedReopens != 0 {
		return false
	}
	return e.From == stateOpen && e.To == stateHalfOpen || e.From == stateHalfOpen && e.To == stateOpen
}

// never enables no level: no stack traces.
var never = zap.LevelEnablerFunc(func(zapcore.Level) bool { return false })

// sink writes bulwark events as structured zap log lines.
type sink struct {
	log     *zap.Logger
	levels  [numKinds]zapcore.Level
	opened  zapcore.Level // a breaker's line to open or forced_open, or with folded opens (see config)
	probing zapcore.Level // a breaker's probe line (see WithProbeLevel)

	// breakers holds the last state each breaker reported (BreakerStateChanged, or the
	// BreakerPublished that put it in service), within the bounds of breakerstates.Store; a
	// Retired event of a breaker forgets it.
	breakers breakerstates.Store
}

// New returns an observe.Sink writing to logger, at the levels of the table in the package
// documentation unless WithLevel says otherwise. The lines carry neither the caller nor a stack
// trace, whatever logger's options: both would point into zapobs, not at the failing call. A nil
// logger gives a sink that writes nothing. The sink is safe for concurrent use, as the
// zap.Logger it wraps is. A nil option is ignored.
func New(logger *zap.Logger, opts ...Option) observe.Sink {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	return &sink{
		log:    logger.WithOptions(zap.WithCaller(false), zap.AddStacktrace(never)),
		levels: cfg.levels,
		opened: cfg.opened, probing: cfg.probing,
	}
}

// Observe implements observe.Sink. It writes the event's line if its level is enabled; when it
// is not, Observe builds no field and allocates nothing. Events of an unknown kind are ignored.
func (s *sink) Observe(e observe.Event) { s.observe(e, "") }

// ObserveCalled implements observe.CalledSink: it writes the event's line as Observe does,
// with the method the call named in a field of its own, called (see the package doc).
func (s *sink) ObserveCalled(e observe.Event, called string) { s.observe(e, called) }

var _ observe.CalledSink = (*sink)(nil)

// observe writes e's line; called, when not "", is the method the call named.
func (s *sink) observe(e observe.Event, called string) {
	if int(e.Kind) <= 0 || int(e.Kind) >= numKinds {
		return
	}
	lvl, l := s.levels[e.Kind], byKind[e.Kind]
	switch e.Kind {
	case observe.BreakerStateChanged:
		s.breakers.Observe(&e)
		switch {
		case lvl != off && probeLine(&e):
			lvl = s.probing
		case e.To == stateOpen || e.To == stateForcedOpen || e.FoldedTrips != 0 || e.FoldedReopens != 0:
			lvl = s.opened // folded opens too: their line is the one that explains the rejections
		}
	case observe.Retired, observe.BreakerPublished:
		s.breakers.Observe(&e)
	}
	if lvl == off || l == nil {
		return
	}
	if e.Kind == observe.Rejected && e.Attempt > 0 {
		l = &hedgeRejected // the call went on: its line must not say the call was rejected
	}
	ce := s.log.Check(lvl, l.msg)
	if ce == nil {
		return
	}
	if !e.Time.IsZero() {
		ce.Time = e.Time
	}
	w := &written{e: e}
	n := 0
	for _, f := range l.fields {
		if zf, ok := f.of(&w.e); ok {
			w.fs[n] = zf
			n++
		}
	}
	if l.breaker && (e.Kind != observe.AttemptFinished || e.Class != codes.Success) {
		if state, ok := s.breakers.State(e.Service, e.Method); ok {
			w.fs[n] = zap.String("breaker", state)
			n++
		}
	}
	if called != "" {
		w.fs[n] = zap.String("called", observe.Clip(called))
		n++
	}
	ce.Write(w.fs[:n]...)
}

// written is what a line that is written needs on the heap, in one allocation: its fields
// (called last, when given), which zap may keep, and the event they are read from, which the
// values see by pointer. (The event of a line that is not written stays on the stack.)
type written struct {
	e  observe.Event
	fs [maxFields + 1]zap.Field
}
