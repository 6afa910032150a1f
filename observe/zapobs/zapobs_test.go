package zapobs_test

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	ocr     = "kyc.v1.OCRService"
	extract = "/kyc.v1.OCRService/Extract"
)

var at = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

// full returns an event of kind k with every field set, so that a line that logged a field it
// should not would show it; but Attempt, on a Rejected event, which a refusing policy sends
// without it (an Attempt makes it a refused hedge's: see "hedge rejected"), and LastFrom,
// FoldedTrips and FoldedReopens on a BreakerStateChanged, which only one that folds several
// changes has (see "folded breaker state changed").
func full(k observe.Kind) observe.Event {
	e := observe.Event{
		Kind: k, Time: at, Service: ocr, Method: extract, Policy: observe.PolicyRetry,
		Attempt: 3, Code: grpccodes.Unavailable, Class: codes.Transient, Reason: observe.ReasonMaxAttempts,
		Delay: 250 * time.Millisecond, Duration: 1500 * time.Millisecond, From: "closed", To: "open",
	}
	if k == observe.Rejected {
		e.Attempt = 0
	}
	if k != observe.BreakerStateChanged {
		e.LastFrom, e.FoldedTrips, e.FoldedReopens = observe.LastFromHalfOpen, 2, 1
	}
	return e
}

func with(e observe.Event, f func(*observe.Event)) observe.Event {
	f(&e)
	return e
}

func observed(level zapcore.Level, opts ...zapobs.Option) (observe.Sink, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zapobs.New(zap.New(core), opts...), logs
}

// field is one expected field: its key and value as zapcore.MapObjectEncoder holds it.
type field struct {
	key string
	val any
}

func TestLines(t *testing.T) {
	tests := []struct {
		name       string
		event      observe.Event
		wantLevel  zapcore.Level
		wantMsg    string
		wantFields []field // exactly these, in this order
	}{
		{
			name:      "attempt finished",
			event:     full(observe.AttemptFinished),
			wantLevel: zapcore.DebugLevel, wantMsg: "attempt finished",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempt", int64(3)},
				{"code", "Unavailable"}, {"class", "transient"}, {"duration", 1500 * time.Millisecond}},
		},
		{
			// A per-attempt timeout that let the attempt run on: its number and the timeout.
			name:      "attempt spared",
			event:     with(full(observe.AttemptSpared), func(e *observe.Event) { e.Delay = 5 * time.Second }),
			wantLevel: zapcore.WarnLevel, wantMsg: "attempt spared",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempt", int64(3)}, {"timeout", 5 * time.Second}},
		},
		{
			name:      "call finished",
			event:     with(full(observe.CallFinished), func(e *observe.Event) { e.Code, e.Class = grpccodes.OK, codes.Success }),
			wantLevel: zapcore.DebugLevel, wantMsg: "call finished",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempts", int64(3)},
				{"code", "OK"}, {"class", "success"}, {"duration", 1500 * time.Millisecond}},
		},
		{
			name:      "retry scheduled",
			event:     full(observe.RetryScheduled),
			wantLevel: zapcore.WarnLevel, wantMsg: "retry scheduled",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempt", int64(3)},
				{"code", "Unavailable"}, {"class", "transient"}, {"delay", 250 * time.Millisecond}},
		},
		{
			name: "retry scheduled by the server's pushback",
			event: with(full(observe.RetryScheduled), func(e *observe.Event) {
				e.Reason, e.Delay = observe.ReasonPushback, 30*time.Second
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "retry scheduled",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempt", int64(3)},
				{"code", "Unavailable"}, {"class", "transient"}, {"delay", 30 * time.Second}, {"reason", "pushback"}},
		},
		{
			name:      "retries exhausted",
			event:     full(observe.RetriesExhausted),
			wantLevel: zapcore.ErrorLevel, wantMsg: "retries exhausted",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempts", int64(3)},
				{"code", "Unavailable"}, {"class", "transient"}, {"reason", "max_attempts"},
				{"elapsed", 1500 * time.Millisecond}},
		},
		{
			name: "service breaker opens",
			event: with(full(observe.BreakerStateChanged), func(e *observe.Event) {
				e.Method, e.Policy, e.Reason = "", observe.PolicyBreaker, "failure_rate"
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "breaker state changed",
			wantFields: []field{{"service", ocr}, {"from", "closed"}, {"to", "open"}, {"reason", "failure_rate"},
				{"open_for", 250 * time.Millisecond}},
		},
		{
			// Changes folded while the sink was held: closed → open → half_open → open →
			// half_open → open → half_open, read as closed → half_open: its own change is the
			// last, open → half_open, which last_from says; its trip and reopens are on the
			// line, which is as visible as a line to open.
			name: "folded breaker state changed",
			event: with(full(observe.BreakerStateChanged), func(e *observe.Event) {
				e.Method, e.Policy, e.From, e.To, e.Reason = "", observe.PolicyBreaker, "closed", "half_open", "recovery_timeout"
				e.LastFrom, e.FoldedTrips, e.FoldedReopens = observe.LastFromOpen, 1, 2
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "breaker state changed",
			wantFields: []field{{"service", ocr}, {"from", "closed"}, {"to", "half_open"}, {"reason", "recovery_timeout"},
				{"last_from", "open"}, {"folded_trips", int64(1)}, {"folded_reopens", int64(2)}},
		},
		{
			// half_open → closed → forced_open → closed, read as half_open → closed: its own
			// change is forced_open → closed, an operator's; nothing to open was folded, so
			// the line is at the level of its own change.
			name: "folded breaker state changed, no open folded",
			event: with(full(observe.BreakerStateChanged), func(e *observe.Event) {
				e.Method, e.Policy, e.From, e.To, e.Reason = "", observe.PolicyBreaker, "half_open", "closed", "reset"
				e.LastFrom = observe.LastFromForcedOpen
			}),
			wantLevel: zapcore.InfoLevel, wantMsg: "breaker state changed",
			wantFields: []field{{"service", ocr}, {"from", "half_open"}, {"to", "closed"}, {"reason", "reset"},
				{"last_from", "forced_open"}},
		},
		{
			// closed → open → half_open → open, read as closed → open: its own open is a
			// reopen, which last_from says, and the trip before it is folded.
			name: "folded breaker state changed to open",
			event: with(full(observe.BreakerStateChanged), func(e *observe.Event) {
				e.Method, e.Policy, e.Reason = "", observe.PolicyBreaker, "probe_failed"
				e.LastFrom, e.FoldedTrips = observe.LastFromHalfOpen, 1
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "breaker state changed",
			wantFields: []field{{"service", ocr}, {"from", "closed"}, {"to", "open"}, {"reason", "probe_failed"},
				{"open_for", 250 * time.Millisecond}, {"last_from", "half_open"}, {"folded_trips", int64(1)}},
		},
		{
			name: "method breaker state changed",
			event: with(full(observe.BreakerStateChanged), func(e *observe.Event) {
				e.Policy, e.From, e.To, e.Reason = observe.PolicyBreaker, "open", "half_open", "recovery_timeout"
			}),
			wantLevel: zapcore.DebugLevel, wantMsg: "breaker state changed", // a probe line
			wantFields: []field{{"service", ocr}, {"method", extract}, {"from", "open"}, {"to", "half_open"},
				{"reason", "recovery_timeout"}},
		},
		{
			name: "rejected",
			event: with(full(observe.Rejected), func(e *observe.Event) {
				e.Policy, e.Reason, e.Delay = observe.PolicyBreaker, "CIRCUIT_OPEN", 3*time.Second
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "call rejected",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"policy", "breaker"},
				{"reason", "CIRCUIT_OPEN"}, {"code", "Unavailable"}, {"retry_after", 3 * time.Second}},
		},
		{
			// A hedge a policy below the hedging one refused, told to the call's sink alone.
			name: "hedge rejected",
			event: with(full(observe.Rejected), func(e *observe.Event) {
				e.Attempt, e.Policy, e.Reason, e.Delay = 2, observe.PolicyBreaker, "CIRCUIT_OPEN", 3*time.Second
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "hedge rejected",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempt", int64(2)}, {"policy", "breaker"},
				{"reason", "CIRCUIT_OPEN"}, {"code", "Unavailable"}, {"retry_after", 3 * time.Second}},
		},
		{
			// The reason of the error the fallback answered: here an open breaker's refusal.
			name: "fallback served",
			event: with(full(observe.FallbackServed), func(e *observe.Event) {
				e.Policy, e.Class, e.Reason = observe.PolicyFallback, codes.Rejected, "CIRCUIT_OPEN"
			}),
			wantLevel: zapcore.InfoLevel, wantMsg: "fallback served",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"code", "Unavailable"}, {"class", "rejected"}, {"reason", "CIRCUIT_OPEN"}},
		},
		{
			// A server's error: its ErrorInfo reason is not written, as a call finished line
			// does not write it (observe.CallFinished).
			name: "fallback served for a server's error",
			event: with(full(observe.FallbackServed), func(e *observe.Event) {
				e.Policy, e.Reason = observe.PolicyFallback, "DOCUMENT_UNREADABLE"
			}),
			wantLevel: zapcore.InfoLevel, wantMsg: "fallback served",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"code", "Unavailable"}, {"class", "transient"}},
		},
		{
			name: "deadline applied",
			event: with(full(observe.DeadlineApplied), func(e *observe.Event) {
				e.Policy, e.Reason, e.Delay = observe.PolicyDeadline, observe.ReasonCap, 2*time.Second
			}),
			wantLevel: zapcore.DebugLevel, wantMsg: "deadline applied",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"timeout", 2 * time.Second}, {"reason", "cap"}},
		},
		{
			name: "limiter degraded",
			event: with(full(observe.LimiterDegraded), func(e *observe.Event) {
				e.Policy, e.Reason = observe.PolicyRateLimit, "fail_open"
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "rate limiter degraded",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"reason", "fail_open"}},
		},
		{
			// A remote limiter's event names no method (redislimit): the line leaves the
			// field out rather than write method="".
			name: "limiter degraded, no method",
			event: with(full(observe.LimiterDegraded), func(e *observe.Event) {
				e.Policy, e.Reason, e.Method = observe.PolicyRateLimit, "fail_closed", ""
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "rate limiter degraded",
			wantFields: []field{{"service", ocr}, {"reason", "fail_closed"}},
		},
		{
			name: "throttle rejected",
			event: with(full(observe.Rejected), func(e *observe.Event) {
				e.Policy, e.Reason, e.Value = observe.PolicyAdaptiveThrottle, "ADAPTIVE_THROTTLE", 0.75
			}),
			wantLevel: zapcore.WarnLevel, wantMsg: "call rejected",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"policy", "adaptive_throttle"},
				{"reason", "ADAPTIVE_THROTTLE"}, {"code", "Unavailable"}, {"probability", 0.75}},
		},
		{
			name: "hedge sent",
			event: with(full(observe.HedgeSent), func(e *observe.Event) {
				e.Policy, e.Reason, e.Delay = observe.PolicyHedge, observe.ReasonHedgeDelay, 40*time.Millisecond
			}),
			wantLevel: zapcore.DebugLevel, wantMsg: "hedge sent",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempt", int64(3)}, {"reason", "delay"},
				{"after", 40 * time.Millisecond}},
		},
		{
			name:      "hedge won",
			event:     with(full(observe.HedgeWon), func(e *observe.Event) { e.Policy, e.Code = observe.PolicyHedge, 0 }),
			wantLevel: zapcore.DebugLevel, wantMsg: "hedge won",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"attempt", int64(3)}, {"code", "OK"},
				{"duration", 1500 * time.Millisecond}},
		},
		{
			name: "limit changed",
			event: with(full(observe.LimitChanged), func(e *observe.Event) {
				e.Method, e.Policy, e.Reason, e.Value, e.Duration = "", observe.PolicyBulkhead, "gradient", 12, 30*time.Millisecond
			}),
			wantLevel: zapcore.InfoLevel, wantMsg: "concurrency limit changed",
			wantFields: []field{{"service", ocr}, {"limit", int64(12)}, {"algorithm", "gradient"},
				{"latency", 30 * time.Millisecond}},
		},
		{
			name: "breaker retired",
			event: with(full(observe.Retired), func(e *observe.Event) {
				e.Method, e.Policy = "", observe.PolicyBreaker
			}),
			wantLevel: zapcore.InfoLevel, wantMsg: "policy object retired",
			wantFields: []field{{"service", ocr}, {"policy", "breaker"}},
		},
		{
			name: "breaker published",
			event: with(full(observe.BreakerPublished), func(e *observe.Event) {
				e.Method, e.Policy, e.From, e.To = "", observe.PolicyBreaker, "", "closed"
			}),
			wantLevel: zapcore.DebugLevel, wantMsg: "breaker published",
			wantFields: []field{{"service", ocr}, {"state", "closed"}},
		},
		{
			name:      "method bulkhead retired",
			event:     with(full(observe.Retired), func(e *observe.Event) { e.Policy = observe.PolicyBulkhead }),
			wantLevel: zapcore.InfoLevel, wantMsg: "policy object retired",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"policy", "bulkhead"}},
		},
		{
			// A method's bulkhead names its service and its method: the line keeps them apart
			// from its service's bulkhead's.
			name: "method limit changed",
			event: with(full(observe.LimitChanged), func(e *observe.Event) {
				e.Policy, e.Reason, e.Value, e.Duration = observe.PolicyBulkhead, "aimd", 3, 30*time.Millisecond
			}),
			wantLevel: zapcore.InfoLevel, wantMsg: "concurrency limit changed",
			wantFields: []field{{"service", ocr}, {"method", extract}, {"limit", int64(3)}, {"algorithm", "aimd"},
				{"latency", 30 * time.Millisecond}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := observed(zapcore.DebugLevel)
			s.Observe(tt.event)
			all := logs.All()
			if len(all) != 1 {
				t.Fatalf("lines = %d; want 1", len(all))
			}
			got := all[0]
			if got.Level != tt.wantLevel || got.Message != tt.wantMsg {
				t.Errorf("line = %v %q; want %v %q", got.Level, got.Message, tt.wantLevel, tt.wantMsg)
			}
			if !got.Time.Equal(at) {
				t.Errorf("time = %v; want the event's %v", got.Time, at)
			}
			if got.Caller.Defined || got.Stack != "" || got.LoggerName != "" {
				t.Errorf("caller %v, stack %q, name %q; want none", got.Caller, got.Stack, got.LoggerName)
			}
			var gotKeys, wantKeys []string
			for _, f := range got.Context {
				gotKeys = append(gotKeys, f.Key)
			}
			wantMap := map[string]any{}
			for _, f := range tt.wantFields {
				wantKeys = append(wantKeys, f.key)
				wantMap[f.key] = f.val
			}
			if !reflect.DeepEqual(gotKeys, wantKeys) {
				t.Errorf("fields = %v; want exactly %v", gotKeys, wantKeys)
			}
			if gotMap := got.ContextMap(); !reflect.DeepEqual(gotMap, wantMap) {
				t.Errorf("fields = %#v; want %#v", gotMap, wantMap)
			}
		})
	}
}

// Every field of every line is one of the documented keys, and the string values are the
// event's own names and codes: nothing else of a request can reach a log line.
func TestNoUndocumentedFields(t *testing.T) {
	documented := map[string]bool{"service": true, "method": true, "attempt": true, "attempts": true,
		"code": true, "class": true, "duration": true, "delay": true, "reason": true, "elapsed": true,
		"from": true, "to": true, "policy": true, "retry_after": true, "timeout": true,
		"after": true, "limit": true, "algorithm": true, "probability": true, "latency": true,
		"open_for": true, "breaker": true, "state": true}
	s, logs := observed(zapcore.DebugLevel)
	for k := observe.Kind(0); k < 20; k++ {
		s.Observe(full(k))
	}
	if got, want := logs.Len(), 15; got != want {
		t.Fatalf("lines = %d; want one per known kind, %d", got, want)
	}
	e := full(0)
	allowedStrings := map[string]bool{e.Service: true, e.Method: true, e.Code.String(): true,
		e.Class.String(): true, e.Reason: true, e.From: true, e.To: true, e.Policy: true}
	for _, l := range logs.All() {
		for key, v := range l.ContextMap() {
			if !documented[key] {
				t.Errorf("%q has field %q; want only documented fields", l.Message, key)
			}
			if str, ok := v.(string); ok && !allowedStrings[str] {
				t.Errorf("%q field %q = %q; want a value of the event", l.Message, key, str)
			}
		}
	}
}

func TestLevels(t *testing.T) {
	kinds := []observe.Kind{observe.AttemptFinished, observe.CallFinished, observe.RetryScheduled,
		observe.RetriesExhausted, observe.BreakerStateChanged, observe.Rejected, observe.FallbackServed,
		observe.DeadlineApplied, observe.LimiterDegraded}
	tests := []struct {
		name  string
		level zapcore.Level
		opts  []zapobs.Option
		want  []string // messages written, in order
	}{
		{name: "debug", level: zapcore.DebugLevel, want: []string{"attempt finished", "call finished",
			"retry scheduled", "retries exhausted", "breaker state changed", "call rejected",
			"fallback served", "deadline applied", "rate limiter degraded"}},
		{name: "info", level: zapcore.InfoLevel, want: []string{"retry scheduled", "retries exhausted",
			"breaker state changed", "call rejected", "fallback served", "rate limiter degraded"}},
		{name: "warn", level: zapcore.WarnLevel, want: []string{"retry scheduled", "retries exhausted",
			"breaker state changed", "call rejected", "rate limiter degraded"}}, // the breaker opens
		{name: "error", level: zapcore.ErrorLevel, want: []string{"retries exhausted"}},
		{name: "raised and lowered", level: zapcore.InfoLevel,
			opts: []zapobs.Option{
				zapobs.WithLevel(observe.AttemptFinished, zapcore.InfoLevel),
				zapobs.WithLevel(observe.RetryScheduled, zapcore.DebugLevel),
			},
			want: []string{"attempt finished", "retries exhausted", "breaker state changed", "call rejected",
				"fallback served", "rate limiter degraded"}},
		{name: "turned off, never panics nor exits", level: zapcore.DebugLevel,
			opts: []zapobs.Option{
				zapobs.WithLevel(observe.AttemptFinished, zapcore.InvalidLevel),
				zapobs.WithLevel(observe.CallFinished, zapcore.DPanicLevel),
				zapobs.WithLevel(observe.RetriesExhausted, zapcore.PanicLevel),
				zapobs.WithLevel(observe.Rejected, zapcore.FatalLevel),
				zapobs.WithLevel(observe.FallbackServed, zapcore.Level(-5)),
				zapobs.WithLevel(observe.Kind(0), zapcore.InfoLevel),  // unknown: ignored
				zapobs.WithLevel(observe.Kind(99), zapcore.InfoLevel), // unknown: ignored
			},
			want: []string{"retry scheduled", "breaker state changed", "deadline applied", "rate limiter degraded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := observed(tt.level, tt.opts...)
			for _, k := range kinds {
				s.Observe(full(k))
			}
			var got []string
			for _, l := range logs.All() {
				got = append(got, l.Message)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lines = %q; want %q", got, tt.want)
			}
		})
	}
}

// The lines carry neither caller nor stack trace, whatever the logger's options.
func TestNoCallerNoStack(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := zapobs.New(zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.DebugLevel)))
	s.Observe(full(observe.RetriesExhausted))
	l := logs.All()[0]
	if l.Caller.Defined || l.Stack != "" {
		t.Errorf("caller %v, stack %q; want none", l.Caller, l.Stack)
	}
}

func TestEventTime(t *testing.T) {
	s, logs := observed(zapcore.DebugLevel)
	before := time.Now()
	s.Observe(with(full(observe.RetryScheduled), func(e *observe.Event) { e.Time = time.Time{} }))
	if got := logs.All()[0].Time; got.Before(before) {
		t.Errorf("time of an event without one = %v; want now (after %v)", got, before)
	}
}

func TestNilLogger(t *testing.T) {
	s := zapobs.New(nil)
	for k := observe.Kind(0); k < 20; k++ {
		s.Observe(full(k))
	}
}

func TestConcurrentObserve(t *testing.T) {
	s, logs := observed(zapcore.DebugLevel)
	const goroutines, events = 8, 200
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range events {
				s.Observe(full(observe.RetryScheduled))
				s.Observe(full(observe.AttemptFinished))
			}
		})
	}
	wg.Wait()
	if got, want := logs.FilterMessage("retry scheduled").Len(), goroutines*events; got != want {
		t.Errorf("retry lines = %d; want %d", got, want)
	}
	if got, want := logs.Len(), 2*goroutines*events; got != want {
		t.Errorf("lines = %d; want %d", got, want)
	}
}

// A line whose level is disabled costs no allocation: the success path of a call logs at Debug.
func TestDisabledLevelAllocs(t *testing.T) {
	tests := []struct {
		name   string
		logger *zap.Logger
	}{
		{"info logger", zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(discard{}), zapcore.InfoLevel))},
		{"nop logger", zap.NewNop()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := zapobs.New(tt.logger)
			a, c := full(observe.AttemptFinished), full(observe.CallFinished)
			if got := testing.AllocsPerRun(1000, func() {
				s.Observe(a)
				s.Observe(c)
			}); got != 0 {
				t.Errorf("allocs = %v; want 0", got)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// A breaker's line to open or forced_open is a warning, the others info: the opening explains
// the warnings (rejections) that follow it, and an operator filtering at warn must see it
// (before, every transition was info, below the rejections it caused). But the probe lines,
// open → half_open and a failed probe's half_open → open, are debug: the built-in breakers
// probe every second, and a long outage wrote two lines a second per breaker, one of them a
// warning; its trip and its close say what happened. WithLevel sets every transition's level
// but the probe lines' (WithProbeLevel), and turns them off with the others.
func TestBreakerOpeningIsAWarning(t *testing.T) {
	transitions := [][2]string{{"closed", "open"}, {"open", "half_open"}, {"half_open", "open"}, {"half_open", "closed"}, {"closed", "forced_open"}, {"forced_open", "closed"}}
	debug, info, warn := zapcore.DebugLevel, zapcore.InfoLevel, zapcore.WarnLevel
	for _, tt := range []struct {
		name string
		opts []zapobs.Option
		want []zapcore.Level // per transition
	}{
		{name: "defaults", want: []zapcore.Level{warn, debug, debug, info, warn, info}},
		{name: "WithLevel", opts: []zapobs.Option{zapobs.WithLevel(observe.BreakerStateChanged, zapcore.DebugLevel)},
			want: []zapcore.Level{debug, debug, debug, debug, debug, debug}},
		{name: "WithLevel warn, as the example orchestrator", opts: []zapobs.Option{zapobs.WithLevel(observe.BreakerStateChanged, warn)},
			want: []zapcore.Level{warn, debug, debug, warn, warn, warn}},
		{name: "WithProbeLevel", opts: []zapobs.Option{zapobs.WithProbeLevel(info)},
			want: []zapcore.Level{warn, info, info, info, warn, info}},
		{name: "WithProbeLevel off", opts: []zapobs.Option{zapobs.WithProbeLevel(zapcore.FatalLevel)},
			want: []zapcore.Level{warn, info, warn, info}},
		{name: "WithLevel off, WithProbeLevel on", opts: []zapobs.Option{
			zapobs.WithProbeLevel(warn), zapobs.WithLevel(observe.BreakerStateChanged, zapcore.InvalidLevel)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := observed(zapcore.DebugLevel, tt.opts...)
			for _, tr := range transitions {
				s.Observe(with(full(observe.BreakerStateChanged), func(e *observe.Event) { e.From, e.To = tr[0], tr[1] }))
			}
			var got []zapcore.Level
			for _, l := range logs.All() {
				got = append(got, l.Level)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("levels = %v, want %v for %v", got, tt.want, transitions)
			}
		})
	}
}

// A name a proxy forwards may be megabytes long: a line writes it clipped (observe.Clip), its
// first observe.MaxKeptName bytes and how many were left out, not whole on every line.
func TestLongNamesAreClipped(t *testing.T) {
	sink, logs := observed(zapcore.DebugLevel)
	svc := strings.Repeat("s", 64<<10)
	method := "/" + svc + "/M"
	for _, k := range []observe.Kind{observe.CallFinished, observe.BreakerStateChanged, observe.Rejected} {
		sink.Observe(with(full(k), func(e *observe.Event) { e.Service, e.Method = svc, method }))
	}
	for _, l := range logs.All() {
		for _, key := range []string{"service", "method"} {
			v, ok := l.ContextMap()[key].(string)
			if !ok {
				t.Fatalf("%q: no %s field", l.Message, key)
			}
			if len(v) > observe.MaxKeptName+32 {
				t.Errorf("%q: %s field of %d bytes, want it clipped to about %d", l.Message, key, len(v), observe.MaxKeptName)
			}
			if v != observe.Clip(map[string]string{"service": svc, "method": method}[key]) {
				t.Errorf("%q: %s field is not the clipped name", l.Message, key)
			}
		}
	}
}
