package zapobs_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
)

const (
	noBreaker = "<absent>"
	recognize = "/kyc.v1.OCRService/Recognize"
)

// changed is the BreakerStateChanged event of the breaker of service and method (empty for a
// service's breaker) moving to state to at time t.
func changed(service, method, to string, t time.Time) observe.Event {
	return observe.Event{Kind: observe.BreakerStateChanged, Time: t, Service: service, Method: method,
		From: "closed", To: to, Reason: "test"}
}

// retired is the Retired event of the breaker of service and method at time t.
func retired(service, method string, t time.Time) observe.Event {
	return observe.Event{Kind: observe.Retired, Time: t, Service: service, Method: method, Policy: observe.PolicyBreaker}
}

// call returns e, an event of a call, naming service and method.
func call(e observe.Event, service, method string) observe.Event {
	e.Service, e.Method = service, method
	e.From, e.To = "", ""
	return e
}

// breakerOf returns the breaker field of the last line written, noBreaker when it has none,
// and fails when the last line is not of message msg or was not written at all.
func breakerOf(t *testing.T, logs *observer.ObservedLogs, msg string) string {
	t.Helper()
	all := logs.All()
	if len(all) == 0 || all[len(all)-1].Message != msg {
		t.Fatalf("no %q line written", msg)
	}
	v, ok := all[len(all)-1].ContextMap()["breaker"]
	if !ok {
		return noBreaker
	}
	return v.(string)
}

// rejection is a breaker's Rejected event.
func rejection() observe.Event {
	return with(full(observe.Rejected), func(e *observe.Event) {
		e.Policy, e.Reason, e.Attempt = observe.PolicyBreaker, "CIRCUIT_OPEN", 0
	})
}

// The lines of a call's failure carry the state of the breaker guarding the call, once that
// breaker has reported one; the other lines never do.
func TestBreakerFieldOnEachLineKind(t *testing.T) {
	tests := []struct {
		name  string
		event observe.Event
		want  string // the breaker field once the service's breaker is half_open
	}{
		{"retry scheduled", full(observe.RetryScheduled), "half_open"},
		{"retry scheduled by pushback", with(full(observe.RetryScheduled), func(e *observe.Event) { e.Reason = observe.ReasonPushback }), "half_open"},
		{"retries exhausted", full(observe.RetriesExhausted), "half_open"},
		{"failed attempt", full(observe.AttemptFinished), "half_open"},
		{"rejection", rejection(), "half_open"},
		{"rejection by the bulkhead", with(full(observe.Rejected), func(e *observe.Event) { e.Policy = observe.PolicyBulkhead }), "half_open"},
		{"successful attempt", with(full(observe.AttemptFinished), func(e *observe.Event) { e.Code, e.Class = grpccodes.OK, codes.Success }), noBreaker},
		{"call finished", with(full(observe.CallFinished), func(e *observe.Event) { e.Class = codes.Transient }), noBreaker},
		{"fallback served", full(observe.FallbackServed), noBreaker},
		{"hedge sent", full(observe.HedgeSent), noBreaker},
		{"deadline applied", full(observe.DeadlineApplied), noBreaker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := observed(zapcore.DebugLevel)
			msg := map[observe.Kind]string{observe.RetryScheduled: zapobs.MsgRetryScheduled,
				observe.RetriesExhausted: zapobs.MsgRetriesExhausted, observe.AttemptFinished: zapobs.MsgAttemptFinished,
				observe.Rejected: zapobs.MsgRejected, observe.CallFinished: zapobs.MsgCallFinished,
				observe.FallbackServed: zapobs.MsgFallbackServed, observe.HedgeSent: zapobs.MsgHedgeSent,
				observe.DeadlineApplied: zapobs.MsgDeadlineApplied}[tt.event.Kind]
			s.Observe(tt.event)
			if got := breakerOf(t, logs, msg); got != noBreaker {
				t.Errorf("before any state event: breaker = %q; want no breaker field", got)
			}
			s.Observe(changed(ocr, "", "half_open", at))
			s.Observe(tt.event)
			if got := breakerOf(t, logs, msg); got != tt.want {
				t.Errorf("after the service's breaker went half_open: breaker = %q; want %q", got, tt.want)
			}
		})
	}
}

// The field is the last field of the line, after those the table lists.
func TestBreakerFieldIsLast(t *testing.T) {
	s, logs := observed(zapcore.DebugLevel)
	s.Observe(changed(ocr, "", "open", at))
	s.Observe(full(observe.RetryScheduled))
	fs := logs.All()[1].Context
	if got := fs[len(fs)-1]; got.Key != "breaker" || got.String != "open" {
		t.Errorf("last field = %s=%q; want breaker=open", got.Key, got.String)
	}
	if got, want := len(fs), 7; got != want { // service, method, attempt, code, class, delay, breaker
		t.Errorf("fields = %d; want %d", got, want)
	}
}

// The field follows each state the breaker reports, whether or not its line is written.
func TestBreakerFieldFollowsStateChanges(t *testing.T) {
	s, logs := observed(zapcore.WarnLevel, zapobs.WithLevel(observe.BreakerStateChanged, zapcore.InvalidLevel))
	for i, to := range []string{"open", "half_open", "open", "half_open", "closed", "forced_open", "disabled", "closed"} {
		s.Observe(changed(ocr, "", to, at.Add(time.Duration(i)*time.Second)))
		s.Observe(full(observe.RetryScheduled))
		if got := breakerOf(t, logs, zapobs.MsgRetryScheduled); got != to {
			t.Errorf("after a change to %s: breaker = %q; want %q", to, got, to)
		}
	}
}

// A method-scoped breaker's state is its method's; a method without a breaker of its own
// has its service's; the overflow chain's breaker serves the names past the suite's bound.
func TestBreakerFieldPerMethod(t *testing.T) {
	const face = "kyc.v1.FaceMatchService"
	s, logs := observed(zapcore.DebugLevel)
	retry := func(service, method string) string {
		t.Helper()
		s.Observe(call(full(observe.RetryScheduled), service, method))
		return breakerOf(t, logs, zapobs.MsgRetryScheduled)
	}
	s.Observe(changed(ocr, extract, "open", at))
	if got := retry(ocr, extract); got != "open" {
		t.Errorf("method with its breaker open: breaker = %q; want open", got)
	}
	if got := retry(ocr, recognize); got != noBreaker {
		t.Errorf("other method, no state seen: breaker = %q; want none", got)
	}
	s.Observe(changed(ocr, recognize, "half_open", at))
	if got := retry(ocr, recognize); got != "half_open" {
		t.Errorf("other method's breaker half_open: breaker = %q; want half_open", got)
	}
	if got := retry(ocr, extract); got != "open" {
		t.Errorf("method with its breaker open, another's changed: breaker = %q; want open", got)
	}
	s.Observe(changed(ocr, "", "forced_open", at))
	if got := retry(ocr, "/kyc.v1.OCRService/Other"); got != "forced_open" {
		t.Errorf("method without a breaker of its own: breaker = %q; want the service's, forced_open", got)
	}
	if got := retry(ocr, extract); got != "open" {
		t.Errorf("method-scoped breaker and a service's: breaker = %q; want the method's, open", got)
	}
	if got := retry(face, "/"+face+"/Compare"); got != noBreaker {
		t.Errorf("another service: breaker = %q; want none", got)
	}
	s.Observe(changed(face, "/"+face+"/*", "open", at))
	if got := retry(face, "/"+face+"/Unlisted"); got != "open" {
		t.Errorf("a name served by the overflow chain: breaker = %q; want the chain's, open", got)
	}
	s.Observe(call(rejection(), "*", "/*/*"))
	if got := breakerOf(t, logs, zapobs.MsgRejected); got != noBreaker {
		t.Errorf("suite's overflow chain, no state seen: breaker = %q; want none", got)
	}
	s.Observe(changed("*", "/*/*", "open", at))
	s.Observe(call(rejection(), "*", "/*/*"))
	if got := breakerOf(t, logs, zapobs.MsgRejected); got != "open" {
		t.Errorf("rejection by the suite's overflow chain: breaker = %q; want open", got)
	}
}

// A Retired breaker is forgotten, unless its state's event is later than the Retired's Time:
// then it is its replacement's.
func TestBreakerFieldAfterRetired(t *testing.T) {
	s, logs := observed(zapcore.DebugLevel)
	retry := func() string {
		t.Helper()
		s.Observe(full(observe.RetryScheduled))
		return breakerOf(t, logs, zapobs.MsgRetryScheduled)
	}
	s.Observe(changed(ocr, extract, "open", at))
	s.Observe(changed(ocr, "", "half_open", at))
	s.Observe(retired(ocr, extract, at.Add(time.Second)))
	if got := retry(); got != "half_open" {
		t.Errorf("method's breaker retired: breaker = %q; want the service's, half_open", got)
	}
	s.Observe(retired(ocr, "", at.Add(time.Second)))
	if got := retry(); got != noBreaker {
		t.Errorf("both retired: breaker = %q; want none", got)
	}
	s.Observe(changed(ocr, "", "open", at.Add(3*time.Second))) // the replacement's, first
	s.Observe(retired(ocr, "", at.Add(2*time.Second)))
	if got := retry(); got != "open" {
		t.Errorf("a replacement's later state, then the old one's Retired: breaker = %q; want open", got)
	}
	s.Observe(with(retired(ocr, "", at.Add(5*time.Second)), func(e *observe.Event) { e.Policy = observe.PolicyBulkhead }))
	if got := retry(); got != "open" {
		t.Errorf("a bulkhead retired: breaker = %q; want the breaker's, open", got)
	}
}

// zapobs keeps at most MaxBreakers breakers, and none of a name longer than
// observe.MaxKeptName: a breaker past them has no field; those kept still follow their
// changes, and a Retired makes room.
func TestBreakerFieldBounded(t *testing.T) {
	s, logs := observed(zapcore.DebugLevel)
	svc := func(i int) string { return fmt.Sprintf("svc%d.v1.Service", i) }
	retry := func(service string) string {
		t.Helper()
		s.Observe(call(full(observe.RetryScheduled), service, "/"+service+"/Do"))
		return breakerOf(t, logs, zapobs.MsgRetryScheduled)
	}
	for i := range zapobs.MaxBreakers {
		s.Observe(changed(svc(i), "", "open", at))
	}
	past := svc(zapobs.MaxBreakers)
	s.Observe(changed(past, "", "open", at))
	if got := retry(past); got != noBreaker {
		t.Errorf("breaker past the bound: breaker = %q; want none", got)
	}
	s.Observe(changed(svc(0), "", "half_open", at))
	if got := retry(svc(0)); got != "half_open" {
		t.Errorf("breaker kept, changed at the bound: breaker = %q; want half_open", got)
	}
	s.Observe(retired(svc(1), "", at))
	s.Observe(changed(past, "", "open", at))
	if got := retry(past); got != "open" {
		t.Errorf("breaker changed after a Retired made room: breaker = %q; want open", got)
	}

	s, logs = observed(zapcore.DebugLevel)
	long := strings.Repeat("s", observe.MaxKeptName+1)
	s.Observe(changed(long, "", "open", at))
	s.Observe(call(full(observe.RetryScheduled), long, "/x/Do"))
	if got := breakerOf(t, logs, zapobs.MsgRetryScheduled); got != noBreaker {
		t.Errorf("service name longer than MaxKeptName: breaker = %q; want none", got)
	}
}

// A line at a disabled level reads no breaker state and allocates nothing, with states kept.
func TestBreakerFieldDisabledLevelAllocs(t *testing.T) {
	s := zapobs.New(jsonLogger(zapcore.ErrorLevel + 1))
	s.Observe(changed(ocr, "", "open", at))
	s.Observe(changed(ocr, extract, "half_open", at))
	a, r, e := full(observe.AttemptFinished), full(observe.RetryScheduled), full(observe.RetriesExhausted)
	if got := testing.AllocsPerRun(1000, func() {
		s.Observe(a)
		s.Observe(r)
		s.Observe(e)
	}); got != 0 {
		t.Errorf("allocs = %v; want 0", got)
	}
}

// A written line costs what it cost without the breaker field: reading the state allocates
// nothing. (Compared, not counted: the race detector adds allocations of its own.)
func TestBreakerFieldWrittenLineAllocs(t *testing.T) {
	r := full(observe.RetryScheduled)
	without := zapobs.New(jsonLogger(zapcore.InfoLevel))
	with := zapobs.New(jsonLogger(zapcore.InfoLevel))
	with.Observe(changed(ocr, extract, "half_open", at))
	want := testing.AllocsPerRun(1000, func() { without.Observe(r) })
	if got := testing.AllocsPerRun(1000, func() { with.Observe(r) }); got != want {
		t.Errorf("allocs with a breaker field = %v; want %v, as without", got, want)
	}
}

// State changes and lines from many goroutines: safe under -race, and every line carries one
// of the states reported.
func TestBreakerFieldConcurrent(t *testing.T) {
	s, logs := observed(zapcore.DebugLevel)
	states := []string{"closed", "open", "half_open"}
	const goroutines, events = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				if g%2 == 0 {
					s.Observe(changed(ocr, extract, states[(g+i)%len(states)], at.Add(time.Duration(i))))
					if i%50 == 0 {
						s.Observe(retired(ocr, extract, at))
					}
				} else {
					s.Observe(full(observe.RetryScheduled))
				}
			}
		})
	}
	wg.Wait()
	for _, l := range logs.FilterMessage(zapobs.MsgRetryScheduled).All() {
		if v, ok := l.ContextMap()["breaker"]; ok && v != "closed" && v != "open" && v != "half_open" {
			t.Fatalf("breaker = %v; want a state reported", v)
		}
	}
	if got, want := logs.FilterMessage(zapobs.MsgRetryScheduled).Len(), goroutines/2*events; got != want {
		t.Errorf("retry lines = %d; want %d", got, want)
	}
}
