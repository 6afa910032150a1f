package hedge

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Stream returns the policy as a stream client interceptor. Client-streaming calls (many
// requests, one reply) of eligible methods are hedged once the caller has closed the send
// side: the hedging delay runs from the first RecvMsg (CloseAndRecv), and each hedge opens a
// new stream through the rest of the chain (streamer), replays every message sent, closes
// and receives. Server-streaming and bidirectional streams pass through unhedged. A hedged
// stream that ends before its reply phase while nobody reads it (its ClientConn shuts down,
// or its caller's context ends) releases attempt 1's context and the messages it kept. See
// the package documentation.
func (p *Policy) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if desc.ServerStreams || !desc.ClientStreams {
			return streamer(ctx, desc, cc, method, opts...)
		}
		pc := callOf(opts)
		if pc.Disabled {
			return streamer(ctx, desc, cc, method, opts...)
		}
		m := p.method(method)
		if !p.eligible(m, &pc) || p.replay <= 0 {
			return streamer(ctx, desc, cc, method, opts...)
		}
		start := p.s.Clock.Now()
		actx, cancel := context.WithCancel(ctx)
		opened := false
		defer func() {
			if !opened {
				cancel() // The streamer panicked: the panic goes on, the context is released.
			}
		}()
		first, err := streamer(actx, desc, cc, method, opts...)
		opened = true
		if err != nil {
			cancel()
			return nil, err
		}
		s := &stream{
			p: p, pc: pc, m: m, ctx: ctx, desc: desc, cc: cc, method: method, streamer: streamer, opts: opts,
			first: first, cancel: cancel, cur: first, opened: start,
		}
		s.buf.Cap = p.replay
		// Watched for its end while nobody reads it (its ClientConn shut down, say), which
		// releases attempt 1's context (see StreamEnded). A policy above watching the stream
		// for the same context shares the wrapper.
		w := streamend.Watch(ctx, desc, s)
		w.WatchConn(cc)
		w.OnEndOf(s) // s itself, no closure: no allocation.
		return w, nil
	}
}

// StreamEnded releases what the stream holds for hedging when it ends while nobody reads or
// writes it (internal/streamend's Caller and Transport ends: the caller's context ended, or
// gRPC ended attempt 1, as its ClientConn's shutdown does), unless its reply phase has begun,
// which releases them as it ends. Attempt 1's context is a child of the caller's: left live,
// it would stay among that context's children until the caller's context ends.
func (s *stream) StreamEnded(e streamend.End) {
	if e.Cause == streamend.Caller || e.Cause == streamend.Transport {
		s.releaseUnlessReplying()
	}
}

// stream is the grpc.ClientStream the caller holds for a hedged client-streaming call. Until
// its reply phase it is attempt 1, keeping what is sent for replay; the reply phase is a call
// like a unary one, whose hedges are replays (see call).
type stream struct {
	p        *Policy
	pc       attempt.PerCall
	m        *methodInfo
	ctx      context.Context // the caller's
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption
	first    grpc.ClientStream
	cancel   context.CancelFunc // attempt 1's
	opened   time.Time          // when the stream was opened: the call's start (HedgeWon)

	mu        sync.Mutex
	cur       grpc.ClientStream // Guarded by mu: attempt 1, then the winner.
	buf       attempt.Replay    // Guarded by mu: messages sent, while the stream may be hedged.
	closeSent bool              // Guarded by mu
	received  bool              // Guarded by mu: the reply phase has begun.
	hedged    bool              // Guarded by mu: the reply phase is hedged (a winner may replace attempt 1).
	replied   bool              // Guarded by mu: the reply phase has ended (see done).
	repliedCh chan struct{}     // Guarded by mu: closed by done; made by a Header that waits for it.

	// replayed is when each hedge's replay ended (its send side closed), zero until then:
	// written and read on the hedge's own goroutine (replay, then report).
	replayed [maxAttempts]time.Time
}

// SendMsg sends m on attempt 1 and keeps it for replay while the stream may be hedged. As
// grpc requires, m must not be modified after SendMsg returns. When attempt 1's SendMsg
// panics before the reply phase, attempt 1's context and the buffer are released as the panic
// passes (see releaseUnlessReplying): the stream is no longer hedged. So they are when it fails
// other than with io.EOF: grpc has ended the stream with the client's own error, and the
// caller need not call RecvMsg after it.
func (s *stream) SendMsg(m any) error {
	s.mu.Lock()
	if !s.closeSent && !s.received {
		s.buf.Add(m) // past the cap, the stream is no longer hedged
	}
	s.mu.Unlock()
	sent := false
	defer func() {
		if !sent {
			s.releaseUnlessReplying()
		}
	}()
	err := s.first.SendMsg(m)
	sent = true
	if err != nil && !errors.Is(err, io.EOF) {
		s.releaseUnlessReplying() // not a panic, but the stream ended as well
	}
	return err
}

// releaseUnlessReplying releases what the stream holds for hedging when a method of the
// stream the caller sees (SendMsg, CloseSend, Header, Trailer) panicked, or SendMsg failed
// other than with io.EOF, unless the reply phase has begun: it releases them as it ends, once
// its hedges, which read the buffer, have returned. The check and the release are one step
// under the lock, so that a RecvMsg on another goroutine either begins the reply phase first,
// or finds the buffer dropped and does not hedge: its hedges never read a buffer being
// dropped.
func (s *stream) releaseUnlessReplying() {
	s.mu.Lock()
	if s.received {
		s.mu.Unlock()
		return
	}
	s.endLocked(nil)
	s.mu.Unlock()
	s.cancel()
}

// CloseSend closes the send side of attempt 1. Hedges close theirs after their replay. When
// attempt 1's CloseSend panics, what the stream holds for hedging is released as for a panic
// of SendMsg.
func (s *stream) CloseSend() error {
	s.mu.Lock()
	s.closeSent = true
	s.mu.Unlock()
	closed := false
	defer func() {
		if !closed {
			s.releaseUnlessReplying()
		}
	}()
	err := s.first.CloseSend()
	closed = true
	return err
}

func (s *stream) current() grpc.ClientStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Header returns the header metadata of attempt 1, or of the winner once RecvMsg returned. A
// header of attempt 1 read before the reply phase commits the stream to attempt 1: the reply
// phase is not hedged, so that the caller never gets one attempt's header and another's reply
// (gRFC A6 commits a call when its response headers arrive). While a hedged reply phase runs,
// Header waits for it to end and returns the header of the stream the caller then sees, the
// winner's, whether attempt 1 had sent a header or ended without one (a hedge won, and attempt
// 1 was canceled). During a reply phase that is not hedged (a receive before CloseSend, or
// past the replay buffer) attempt 1 stays the stream the caller sees, and Header returns its
// header as it comes, as gRPC's does: the caller may need it before it sends on and closes the
// send side, which that receive waits for. When that stream's Header panics, what the stream
// holds for hedging is released as for a panic of SendMsg.
func (s *stream) Header() (metadata.MD, error) {
	read := false
	defer func() {
		if !read {
			s.releaseUnlessReplying()
		}
	}()
	md, err := s.header()
	read = true
	return md, err
}

// header is Header without its panic handling.
func (s *stream) header() (metadata.MD, error) {
	st := s.current()
	md, err := st.Header()
	if err != nil || st != s.first {
		return md, err
	}
	s.mu.Lock()
	if !s.received && md != nil {
		s.buf.Drop() // committed to attempt 1: RecvMsg does not hedge
	}
	if s.hedged && !s.replied {
		if s.repliedCh == nil {
			s.repliedCh = make(chan struct{})
		}
		ch := s.repliedCh
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	cur := s.cur
	s.mu.Unlock()
	if cur == st {
		return md, err
	}
	return cur.Header()
}

// Trailer returns the trailer metadata of attempt 1, or of the winner once RecvMsg returned.
// When its Trailer panics, what the stream holds for hedging is released as for a panic of
// SendMsg.
func (s *stream) Trailer() metadata.MD {
	read := false
	defer func() {
		if !read {
			s.releaseUnlessReplying()
		}
	}()
	md := s.current().Trailer()
	read = true
	return md
}

// Context returns the context of attempt 1's stream, or of the winner's once RecvMsg returned.
func (s *stream) Context() context.Context { return s.current().Context() }

// RecvMsg receives the reply. The first call is the reply phase: hedged when the send side is
// closed and the sent messages fit the replay buffer (and, under a retry loop, the loop has not
// reported the round itself: see attempt.Round.Take), else a plain receive on attempt 1.
func (s *stream) RecvMsg(m any) error {
	s.mu.Lock()
	if s.received {
		st := s.cur
		s.mu.Unlock()
		return st.RecvMsg(m)
	}
	s.received = true
	msg, ok := m.(proto.Message)
	hedge := !s.buf.Over() && s.closeSent && ok
	if hedge {
		// Under a retry loop, the hedged reply phase reports the round's attempts, and only
		// when the loop has not reported the round itself already (a stream that ended
		// while nobody read it, read after its end: see attempt.Round.Claim); else no hedge
		// goes out that nothing would report, and attempt 1 is received as it is.
		if r := attempt.RoundOf(s.opts); r != nil && !r.Take() {
			hedge = false
		}
	}
	s.hedged = hedge
	s.mu.Unlock()
	if !hedge {
		// Released as the receive returns, or as a panic of it passes on to the caller.
		defer s.done(nil)
		return s.first.RecvMsg(m)
	}
	c := s.p.newCall(s.ctx, s.m, &s.pc, s.opts, msg)
	c.st, c.opts = s, s.opts
	c.begin(s.cancel, s.opened)
	decided := false
	defer func() {
		if !decided {
			// Attempt 1 panicked (its RecvMsg, or its Trailer read for the server's
			// pushback), or what ran for it here once it returned (the observer, the
			// classifier): the panic goes on to the caller, once the hedges have been
			// canceled and have returned. The call is not reused. After a panic of the
			// observer on HedgeWon, the winner stays the stream the caller sees.
			c.unwind()
			s.done(nil)
		}
	}()
	err := s.first.RecvMsg(m)
	var trailer metadata.MD
	if err != nil {
		trailer = s.first.Trailer()
	}
	c.finish(1, s.opened, err, nil, trailer) // attempt 1 started as the stream opened
	decider, err := c.wait(err)
	var won grpc.ClientStream
	if decider > 1 {
		won = c.outs[decider-1].stream
	}
	// The winner is the stream the caller sees before HedgeWon is sent: when the observer
	// panics on it, a caller that recovers reads on from the winner (the deferred done(nil)
	// leaves the stream the caller sees as it is).
	s.done(won)
	c.hedgeWon(decider)
	decided = true
	pv, panicked := c.raised()
	c.release()
	if panicked {
		panic(pv) // a hedge's, raised here as attempt 1's would be
	}
	return err
}

// done ends the reply phase: the buffer is dropped, attempt 1's context released, won (if not
// nil) becomes the stream the caller sees, and a Header waiting for the phase's end goes on.
func (s *stream) done(won grpc.ClientStream) {
	s.mu.Lock()
	s.endLocked(won)
	s.mu.Unlock()
	s.cancel()
}

// endLocked is done's work under the lock; the caller then releases attempt 1's context.
func (s *stream) endLocked(won grpc.ClientStream) {
	s.buf.Drop()
	if won != nil {
		s.cur = won
	}
	if !s.replied {
		s.replied = true
		if s.repliedCh != nil {
			close(s.repliedCh)
		}
	}
}

// sampleFrom returns when the latency sample of attempt n starts, and whether it has one: the
// server's time to answer begins, for attempt 1, at the reply phase (replyPhase), once the
// caller has sent every message and closed the send side; for a hedge, once its replay has
// sent them again and closed its send side. A hedge that ended before its replay did has no
// sample: the server never had the whole request.
func (s *stream) sampleFrom(n int, replyPhase time.Time) (time.Time, bool) {
	if n == 1 {
		return replyPhase, true
	}
	at := s.replayed[n-1]
	return at, !at.IsZero()
}

// replay is hedge n of the stream: it opens a stream with ctx and opts, sends every kept
// message, closes the send side and receives the reply.
func (s *stream) replay(ctx context.Context, n int, reply proto.Message, out *attemptOut, opts []grpc.CallOption) error {
	st, err := s.streamer(ctx, s.desc, s.cc, s.method, opts...)
	if err != nil {
		return err
	}
	out.stream = st
	for _, msg := range s.buf.Msgs() { // no longer written: the send side is closed
		if err := st.SendMsg(msg); err != nil {
			if errors.Is(err, io.EOF) {
				break // the attempt failed; RecvMsg tells how
			}
			return err
		}
	}
	_ = st.CloseSend()
	s.replayed[n-1] = s.p.s.Clock.Now()
	return st.RecvMsg(reply)
}
