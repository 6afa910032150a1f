package promobs

import (
	"sync"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/codes"
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

	method      string // keptMethod
	callClass   codes.Class
	call        callSeries // keptCall: code OK, callClass
	attemptCls  codes.Class
	attempt     prometheus.Counter // keptAttempt: code OK, attemptCls
	deadlineWhy string
	deadline    prometheus.Counter // keptDeadline: reason deadlineWhy
}

// Observe records e.
func (s *methodSink) Observe(e observe.Event) {
	k := s.kept.Load()
	if k&keptMethod == 0 || e.Method != s.method {
		if k&keptMethod != 0 || !s.keep(e, keptMethod, nil) {
			s.m.Observe(e)
			return
		}
		k = s.kept.Load()
	}
	switch e.Kind {
	case observe.CallFinished:
		if k&keptCall != 0 && e.Code == grpccodes.OK && e.Class == s.callClass {
			s.call.record(e)
			return
		}
		if e.Code == grpccodes.OK && s.keep(e, keptCall, func() {
			s.callClass, s.call = e.Class, s.m.callOf(e)
		}) {
			s.Observe(e)
			return
		}
	case observe.AttemptFinished:
		if k&keptAttempt != 0 && e.Code == grpccodes.OK && e.Class == s.attemptCls {
			s.attempt.Inc()
			return
		}
		if e.Code == grpccodes.OK && s.keep(e, keptAttempt, func() {
			s.attemptCls, s.attempt = e.Class, s.m.attemptOf(e)
		}) {
			s.Observe(e)
			return
		}
	case observe.DeadlineApplied:
		if k&keptDeadline != 0 && e.Reason == s.deadlineWhy {
			s.deadline.Inc()
			return
		}
		if s.keep(e, keptDeadline, func() {
			s.deadlineWhy, s.deadline = e.Reason, s.m.deadlineOf(e)
		}) {
			s.Observe(e)
			return
		}
	}
	s.m.Observe(e)
}

// keep sets what bit stands for by set (for keptMethod: e's method, for a kind that s keeps),
// once, and reports whether it did: false when it was set before.
func (s *methodSink) keep(e observe.Event, bit uint32, set func()) bool {
	if bit == keptMethod {
		switch e.Kind {
		case observe.CallFinished, observe.AttemptFinished, observe.DeadlineApplied:
		default:
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kept.Load()
	if k&bit != 0 {
		return false
	}
	if bit == keptMethod {
		s.method = e.Method
	} else {
		set()
	}
	s.kept.Store(k | bit)
	return true
}
