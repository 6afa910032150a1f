package promobs

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

// ForMethod returns the sink a bulwark suite sends the events of one chain to: the chain of
// fullMethod, a method of service, or the chain that service's methods share (observe.Scoper).
// It records every event exactly as m does. Of the first method whose events it meets, it keeps
// the series of the method's successful calls and attempts and the counter of its first
// deadline reason, each found once, on first use, in the sink itself; the events of such a
// call then update their series without the lookups by service and method that Observe makes
// (and that every other event takes). A chain serves one method, or the methods of a service
// without entries of their own, often one: the first method is the one that matters.
//
// A suite records a call that succeeds at its first attempt with one call into the sink
// instead of those three events (internal/fastobs): the sink then sees such a call's
// DeadlineApplied, when the call did not succeed at once, after the call's attempts, just
// before its CallFinished. What is recorded is the same.
func (m *Metrics) ForMethod(service, fullMethod string) observe.Sink { return &methodSink{m: m} }

var _ observe.Scoper = (*Metrics)(nil)

// Which of a methodSink's series are kept (methodSink.kept's bits).
const (
	keptMethod uint32 = 1 << iota
	keptCall
	keptAttempt
	keptDeadline
)

// methodSink is the sink of one chain (Metrics.ForMethod). Its fields after kept are each
// written once, under mu, before the bit of kept that says they are set: a reader that sees
// the bit reads them without a lock. An event's service is its full method's, so the method
// alone tells whether an event is the kept method's.
type methodSink struct {
	m    *Metrics
	kept atomic.Uint32
	mu   sync.Mutex

	method         string // keptMethod
	callClass      codes.Class
	call           callSeries // keptCall: code OK, callClass
	attemptClass   codes.Class
	attempt        prometheus.Counter // keptAttempt: code OK, attemptClass
	deadlineReason string
	deadline       prometheus.Counter // keptDeadline: reason deadlineReason
}

// Observe records e.
func (s *methodSink) Observe(e observe.Event) {
	k := s.kept.Load()
	mine := k&keptMethod != 0 && e.Method == s.method
	if mine && s.hit(k, &e) {
		return
	}
	if bit := keptBit(e); bit != 0 && k&bit == 0 && (mine || k&keptMethod == 0) && s.learn(e, bit) {
		s.Observe(e)
		return
	}
	s.m.Observe(e)
}

var _ fastobs.SuccessRecorder = (*methodSink)(nil)

// ObserveSuccess records a call of method that succeeded at its first attempt, in d, with the
// deadline step's DeadlineApplied of reason deadline (and delay) unless deadline is "": what
// Observe records of those three events (see fastobs.SuccessRecorder). When s keeps the
// series of all of them (a call of its kept method, with the reason it keeps), it updates them
// without an event; else it records the events, through Observe.
func (s *methodSink) ObserveSuccess(service, method string, d time.Duration, deadline string, delay time.Duration) {
	const all = keptMethod | keptCall | keptAttempt
	k := s.kept.Load()
	if k&all == all && method == s.method && s.callClass == codes.Success && s.attemptClass == codes.Success &&
		(deadline == "" || k&keptDeadline != 0 && deadline == s.deadlineReason) {
		if deadline != "" {
			s.deadline.Inc()
		}
		s.attempt.Inc()
		s.call.record(d)
		return
	}
	s.successEvents(service, method, d, deadline, delay)
}

// successEvents records the events ObserveSuccess stands for, through Observe. Apart, so
// that ObserveSuccess's frame holds no event.
func (s *methodSink) successEvents(service, method string, d time.Duration, deadline string, delay time.Duration) {
	if deadline != "" {
		s.Observe(observe.Event{
			Kind: observe.DeadlineApplied, Service: service, Method: method,
			Policy: observe.PolicyDeadline, Reason: deadline, Delay: delay,
		})
	}
	s.Observe(observe.Event{
		Kind: observe.AttemptFinished, Service: service, Method: method, Policy: observe.PolicyRetry,
		Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d,
	})
	s.Observe(observe.Event{
		Kind: observe.CallFinished, Service: service, Method: method, Policy: observe.PolicySuite,
		Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d,
	})
}

// hit records e, an event of the kept method, through the series s keeps for it, and reports
// whether s keeps them (the bits of k). It takes e by pointer: the event is 168 bytes, which
// a call by value copies again.
func (s *methodSink) hit(k uint32, e *observe.Event) bool {
	switch e.Kind {
	case observe.CallFinished:
		if k&keptCall == 0 || e.Code != grpccodes.OK || e.Class != s.callClass {
			return false
		}
		s.call.record(e.Duration)
	case observe.AttemptFinished:
		if k&keptAttempt == 0 || e.Code != grpccodes.OK || e.Class != s.attemptClass {
			return false
		}
		s.attempt.Inc()
	case observe.DeadlineApplied:
		if k&keptDeadline == 0 || e.Reason != s.deadlineReason {
			return false
		}
		s.deadline.Inc()
	default:
		return false
	}
	return true
}

// keptBit returns the bit of the series s would keep for e: a successful call's or attempt's, a
// deadline's; 0 for an event whose series it does not keep.
func keptBit(e observe.Event) uint32 {
	switch {
	case e.Kind == observe.CallFinished && e.Code == grpccodes.OK:
		return keptCall
	case e.Kind == observe.AttemptFinished && e.Code == grpccodes.OK:
		return keptAttempt
	case e.Kind == observe.DeadlineApplied:
		return keptDeadline
	}
	return 0
}

// learn keeps the series of e, whose bit is bit, when s has none for that bit yet and e is of
// the kept method (the first it learns), and reports whether it did.
func (s *methodSink) learn(e observe.Event, bit uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kept.Load()
	if k&keptMethod == 0 {
		s.method, k = e.Method, k|keptMethod
		s.kept.Store(k)
	}
	if k&bit != 0 || e.Method != s.method {
		return false
	}
	switch bit {
	case keptCall:
		s.callClass, s.call = e.Class, s.m.callOf(e)
	case keptAttempt:
		s.attemptClass, s.attempt = e.Class, s.m.attemptOf(e)
	case keptDeadline:
		s.deadlineReason, s.deadline = e.Reason, s.m.deadlineOf(e)
	}
	s.kept.Store(k | bit)
	return true
}
