package retry

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// errAttemptTimeout is the cause set on a stream attempt's context when its per-attempt
// timeout fires.
var errAttemptTimeout = errors.New("retry: per-attempt timeout")

// Stream returns the policy as a stream client interceptor. A stream is retried until it
// commits: when its first response message arrives, when it ends without error, or when the
// messages it sent outgrow Config.ReplayBufferBytes. A retry opens a new stream through the
// rest of the chain (streamer), replays every message sent so far, in order, and closes the
// send side again if the caller had closed it. See the package documentation.
func (p *Policy) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs := p.callSettings(opts)
		if cs.disabled {
			return streamer(ctx, desc, cc, method, opts...)
		}
		m := p.method(method)
		s := &retryStream{
			p: p, cs: cs, m: m, desc: desc, cc: cc, method: method, streamer: streamer, opts: opts,
			parent: ctx, callCtx: ctx, start: cs.clock.Now(),
			limit: p.maxAttempts(cs), eligible: p.eligible(m, cs),
		}
		if p.cfg.Budget > 0 {
			s.budgetEnd = s.start.Add(p.cfg.Budget)
			s.callCtx, s.callCancel = clock.WithDeadline(ctx, cs.clock, s.budgetEnd)
		}
		s.mu.Lock()
		err := s.openLocked(1)
		s.mu.Unlock()
		if err != nil {
			if err = s.retry(err, nil); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
}

// retryStream is the grpc.ClientStream the caller holds; it stands for a sequence of attempt
// streams, one at a time. As with any grpc.ClientStream, one goroutine may send while another
// receives.
type retryStream struct {
	p        *Policy
	cs       *settings
	m        *methodInfo
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption

	parent     context.Context // the caller's
	callCtx    context.Context // parent, bounded by the budget
	callCancel context.CancelFunc
	start      time.Time
	budgetEnd  time.Time
	limit      int
	eligible   bool

	// Used only by the goroutine that retries (the opener, then the receiver).
	timer clock.Timer
	sched schedule

	mu        sync.Mutex
	cur       grpc.ClientStream       // Guarded by mu: the current attempt's stream.
	cancel    context.CancelCauseFunc // Guarded by mu: cancels the current attempt.
	attTimer  clock.Timer             // Guarded by mu: the current attempt's timeout, until commit.
	timedOut  *atomic.Bool            // Guarded by mu: set when the current attempt timed out.
	n         int                     // Guarded by mu: the current attempt, 1-based.
	t0        time.Time               // Guarded by mu: when it started.
	committed bool                    // Guarded by mu: no more retries.
	accounted bool                    // Guarded by mu: the committed attempt's outcome was reported.
	broken    bool                    // Guarded by mu: the current attempt failed; sends only buffer.
	closeSent bool                    // Guarded by mu: the caller closed the send side.
	buf       []any                   // Guarded by mu: messages sent so far, until commit.
	bufBytes  int                     // Guarded by mu
	final     error                   // Guarded by mu: the error the stream ended with for good.
	released  bool                    // Guarded by mu
}

// openLocked opens attempt n and replays the buffered messages on it. On error the attempt's
// context is canceled and the previous stream is kept, marked broken.
func (s *retryStream) openLocked(n int) error {
	s.n, s.t0 = n, s.cs.clock.Now()
	actx := s.callCtx
	if n > 1 {
		actx = metadata.AppendToOutgoingContext(actx, AttemptMetadataKey, strconv.Itoa(n))
	}
	actx, cancel := context.WithCancelCause(actx)
	var (
		at clock.Timer
		to *atomic.Bool
	)
	if d := s.p.cfg.PerAttemptTimeout; d > 0 {
		to = new(atomic.Bool)
		at = s.cs.clock.AfterFunc(d, func() {
			to.Store(true)
			cancel(errAttemptTimeout)
		})
	}
	s.cancel, s.attTimer, s.timedOut = cancel, at, to
	st, err := s.streamer(actx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		s.stopAttemptLocked()
		s.broken = true
		return err
	}
	s.cur, s.broken = st, false
	for _, msg := range s.buf {
		if err := st.SendMsg(msg); err != nil {
			if errors.Is(err, io.EOF) {
				// The attempt failed; RecvMsg will tell how.
				s.broken = true
				return nil
			}
			s.stopAttemptLocked()
			s.broken = true
			return err
		}
	}
	if s.closeSent {
		_ = st.CloseSend()
	}
	return nil
}

// stopAttemptLocked stops the current attempt's timeout and cancels its context.
func (s *retryStream) stopAttemptLocked() {
	if s.attTimer != nil {
		s.attTimer.Stop()
		s.attTimer = nil
	}
	if s.cancel != nil {
		s.cancel(context.Canceled)
		s.cancel = nil
	}
}

// commitLocked ends retrying: the buffer is dropped and the per-attempt timeout lifted.
func (s *retryStream) commitLocked() {
	if s.committed {
		return
	}
	s.committed = true
	clear(s.buf)
	s.buf, s.bufBytes = nil, 0
	if s.attTimer != nil {
		s.attTimer.Stop()
		s.attTimer = nil
	}
}

// releaseLocked frees what the stream holds once it is over.
func (s *retryStream) releaseLocked() {
	if s.released {
		return
	}
	s.released = true
	s.commitLocked()
	s.stopAttemptLocked()
	if s.callCancel != nil {
		s.callCancel()
	}
}

func (s *retryStream) release() {
	s.mu.Lock()
	s.releaseLocked()
	s.mu.Unlock()
}

func msgSize(m any) int {
	if pm, ok := m.(proto.Message); ok {
		return proto.Size(pm)
	}
	return -1
}

// SendMsg sends m on the current attempt and keeps it for replay until the stream commits.
// As grpc requires, m must not be modified after SendMsg returns.
func (s *retryStream) SendMsg(m any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final != nil {
		return io.EOF
	}
	if !s.committed {
		size, capBytes := msgSize(m), s.p.cfg.ReplayBufferBytes
		if !s.eligible || size < 0 || capBytes < 0 || s.bufBytes+size > capBytes {
			s.commitLocked()
		} else {
			s.buf = append(s.buf, m)
			s.bufBytes += size
		}
	}
	if s.broken {
		if s.committed {
			return io.EOF
		}
		return nil
	}
	err := s.cur.SendMsg(m)
	if errors.Is(err, io.EOF) && !s.committed {
		s.broken = true
		return nil
	}
	return err
}

// CloseSend closes the send side of the current attempt, and of every later one.
func (s *retryStream) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeSent = true
	if s.broken || s.final != nil {
		return nil
	}
	return s.cur.CloseSend()
}

// Header returns the header metadata of the current attempt.
func (s *retryStream) Header() (metadata.MD, error) {
	s.mu.Lock()
	st := s.cur
	s.mu.Unlock()
	if st == nil {
		return nil, s.final
	}
	return st.Header()
}

// Trailer returns the trailer metadata of the current attempt.
func (s *retryStream) Trailer() metadata.MD {
	s.mu.Lock()
	st := s.cur
	s.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.Trailer()
}

// Context returns the context of the current attempt's stream.
func (s *retryStream) Context() context.Context {
	s.mu.Lock()
	st := s.cur
	s.mu.Unlock()
	if st == nil {
		return s.callCtx
	}
	return st.Context()
}

// RecvMsg receives on the current attempt. Before the stream commits, a failure is retried
// as the policy says: a new attempt is opened, the sent messages replayed, and RecvMsg
// receives from it.
func (s *retryStream) RecvMsg(m any) error {
	for {
		s.mu.Lock()
		if s.final != nil {
			err := s.final
			s.mu.Unlock()
			return err
		}
		st, committed, accounted, n, t0 := s.cur, s.committed, s.accounted, s.n, s.t0
		s.mu.Unlock()
		err := st.RecvMsg(m)
		if committed && accounted {
			if err != nil || !s.desc.ServerStreams {
				s.release()
			}
			return err
		}
		if err == nil || errors.Is(err, io.EOF) || committed {
			// The first outcome decides: a message or a clean end commits the stream.
			s.mu.Lock()
			s.commitLocked()
			s.accounted = true
			s.mu.Unlock()
			var v codes.Verdict
			if err == nil || errors.Is(err, io.EOF) {
				v = codes.Verdict{Class: codes.Success, Code: grpccodes.OK}
			} else {
				v = s.cs.classifier.ClassifyTrailer(err, st.Trailer())
			}
			s.attemptFinished(n, t0, v)
			s.p.report(s.cs, s.start, n, v, "")
			if err != nil || !s.desc.ServerStreams {
				s.release()
			}
			return err
		}
		if ferr := s.retry(err, st.Trailer()); ferr != nil {
			return ferr
		}
	}
}

func (s *retryStream) attemptFinished(n int, t0 time.Time, v codes.Verdict) {
	if s.m.bucket != nil {
		s.m.bucket.record(v, n == 1)
	}
	if sink := s.cs.sink; sink != nil {
		now := s.cs.clock.Now()
		sink.Observe(observe.Event{
			Kind: observe.AttemptFinished, Time: now, Service: s.m.service, Method: s.m.name,
			Policy: observe.PolicyRetry, Attempt: n, Code: v.Code, Class: v.Class, Duration: now.Sub(t0),
		})
	}
}

// retry handles the failure err of the current attempt before commit: it opens the next
// attempt (after the backoff sleep) and returns nil, or ends the stream and returns the error
// the caller gets.
func (s *retryStream) retry(err error, trailer metadata.MD) error {
	for {
		s.mu.Lock()
		n, t0, to := s.n, s.t0, s.timedOut
		s.broken = true
		s.stopAttemptLocked()
		s.mu.Unlock()
		if to != nil && to.Load() && s.callCtx.Err() == nil {
			err = attemptTimedOut(err, s.p.cfg.PerAttemptTimeout)
		}
		v := s.cs.classifier.ClassifyTrailer(err, trailer)
		s.attemptFinished(n, t0, v)
		delay, reason, raw := s.p.decide(s.parent, bounds{budgetEnd: s.budgetEnd, budgetCtx: s.callCtx}, s.m, s.cs, v, n, s.limit, s.eligible, s.sched)
		if !raw && reason == "" {
			s.mu.Lock()
			committed := s.committed
			s.mu.Unlock()
			if committed {
				raw = true // the replay buffer overflowed: the stream can no longer be retried
			}
		}
		if raw || reason != "" {
			return s.fail(n, v, reason, err)
		}
		if sink := s.cs.sink; sink != nil {
			sink.Observe(observe.Event{
				Kind: observe.RetryScheduled, Time: s.cs.clock.Now(), Service: s.m.service, Method: s.m.name,
				Policy: observe.PolicyRetry, Attempt: n, Code: v.Code, Class: v.Class, Delay: delay,
			})
		}
		if !sleep(s.callCtx, s.cs.clock, &s.timer, delay) {
			reason, raw := interrupted(s.parent)
			if raw {
				reason = ""
			}
			return s.fail(n, v, reason, err)
		}
		s.sched = s.sched.next(delay, v.Pushback.Set)
		s.mu.Lock()
		if s.committed {
			// The caller outgrew the replay buffer while we slept.
			s.mu.Unlock()
			return s.fail(n, v, "", err)
		}
		err = s.openLocked(n + 1)
		s.mu.Unlock()
		if err == nil {
			return nil
		}
		trailer = nil
	}
}

// fail ends the stream with the last attempt's error, annotated when retrying stopped for a
// reason.
func (s *retryStream) fail(n int, v codes.Verdict, reason string, err error) error {
	if reason != "" {
		err = s.p.exhausted(s.cs, s.m, s.start, n, v, reason, err)
	} else {
		s.p.report(s.cs, s.start, n, v, "")
	}
	s.mu.Lock()
	s.final = err
	s.releaseLocked()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	return err
}
