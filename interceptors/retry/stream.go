package retry

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// errAttemptTimeout is the cause set on a stream attempt's context when its per-attempt
// timeout fires.
var errAttemptTimeout = errors.New("retry: per-attempt timeout")

// Stream returns the policy as a stream client interceptor. A stream is retried until it
// commits: when its first response message arrives, when the caller reads a header from it
// (Header), in either case from an attempt that its per-attempt timeout has not ended (a
// header, or a server stream's reply, that gRPC hands over after that end is the timed-out
// attempt's, which is retried), when it ends without error, when the messages it sent outgrow
// Config.ReplayBufferBytes, or when its per-attempt timeout passes after the server's header
// came while no receive waited on it (see attemptTimeout.fire). A retry opens a new stream
// through the rest of the chain (streamer), replays every message sent so far, in order, and
// closes the send side again if the caller had closed it. See the package documentation.
func (p *Policy) Stream() grpc.StreamClientInterceptor { return p.stream(false) }

// stream returns the policy as a stream client interceptor; suite: as a suite's retry step,
// whose stream made with Disable reports its one attempt (see streamDisabledReported).
func (p *Policy) stream(suite bool) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		c := callOf(opts)
		if c.Disabled {
			if suite {
				return p.streamDisabledReported(ctx, desc, cc, method, streamer, &c, opts)
			}
			return streamer(ctx, desc, cc, method, opts...)
		}
		s := &retryStream{
			p: p, c: c, desc: desc, cc: cc, method: method, streamer: streamer,
			parent: ctx, callCtx: ctx,
		}
		s.changed.L = &s.mu
		s.loop = p.newLoop(ctx, p.method(method), &s.c, time.Time{})
		s.loop.cc = cc // its shutdown ends a backoff sleep (see loop.sleep)
		s.buf.Cap = p.cfg.ReplayBufferBytes
		if !s.loop.eligible {
			s.buf.Drop()
		}
		// The call's options, and the attempts' Round for a hedging policy below: in the
		// stream's own array when they fit, capped so that an append below copies them.
		if n := len(opts) + 1; n <= len(s.optsArr) {
			s.opts = append(append(s.optsArr[:0:n], opts...), &s.round)
		} else {
			s.opts = append(append(make([]grpc.CallOption, 0, n), opts...), &s.round)
		}
		// The budget bounds the stream's whole life, as one context made at open, unless the
		// caller's deadline comes first (the unary rule, attempt.BoundOf).
		if b := attempt.BoundOf(ctx, s.loop.b.budgetEnd, s.loop.start, 0, false); b.Needed {
			s.callCtx, s.callCancel = clock.WithDeadline(ctx, p.s.Clock, b.End)
		}
		if _, _, err := s.open(1); err != nil {
			if err = s.retry(err, nil); err != nil {
				return nil, err
			}
		}
		w := streamend.Watch(ctx, desc, s)
		w.WatchConn(cc) // its shutdown ends the stream, committed or not (see ConnClosed)
		w.OnEndOf(s)
		return w, nil
	}
}

// streamDisabledReported opens a stream made with Disable (its call options c) for a suite's
// retry step: straight through streamer, as Stream does, but its one attempt is reported,
// as invokeDisabledReported reports a unary call's: one AttemptFinished (attempt 1) to the
// call's sink (WithCallObserver) or the policy's, when the stream ends, once, however it ends
// (internal/streamend: its status or success, a failed send, the caller's context ending
// while nobody reads, gRPC ending it) but for a panic of one of its methods (as a unary
// attempt that panics, it is not reported), or when it fails to open; unless a hedging policy
// below reported the stream's requests itself (the attempt's Round). Every request sent
// through a suite is then reported once, retry section or not, Disable or not.
func (p *Policy) streamDisabledReported(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, c *call, opts []grpc.CallOption) (grpc.ClientStream, error) {
	sink := c.SinkOr(p.s.Sink)
	if sink == nil {
		return streamer(ctx, desc, cc, method, opts...)
	}
	d := &disabledStream{p: p, sink: sink, method: method, start: p.s.Clock.Now()}
	d.round.Reset(0, d.start, nil) // a stream's hedges outlive a decision: no shared cancel
	cs, err := streamer(ctx, desc, cc, method, append(opts[:len(opts):len(opts)], &d.round)...)
	if err != nil {
		d.report(err)
		return nil, err
	}
	w := streamend.Watch(ctx, desc, cs)
	w.OnEndOf(d) // d itself, no closure: no allocation.
	return w, nil
}

// disabledStream is what a stream made with Disable holds to report its one attempt (see
// streamDisabledReported): the Round among its call options, and the sink, method and start
// of the report; one allocation, made when the stream opens, and its streamend.Ender.
type disabledStream struct {
	round  attempt.Round
	p      *Policy
	sink   observe.Sink
	method string
	start  time.Time
}

// report reports the stream's attempt, ended with err, unless a hedging policy below reported
// its requests or took the round to report them (attempt.Round.Take). The round is claimed
// (attempt.Round.Claim), not only read: a RecvMsg after the end (a Header that failed, then
// CloseAndRecv) is then no hedged reply phase, which would report the attempt a second time.
func (d *disabledStream) report(err error) {
	if d.round.Claim() {
		d.p.reportDisabled(d.sink, &d.round, d.method, d.start, err)
	}
}

// StreamEnded reports the stream's attempt with how it ended, but for a panic of one of its
// methods: as a unary attempt that panics, that is not reported.
func (d *disabledStream) StreamEnded(e streamend.End) {
	if e.Cause != streamend.Panic {
		d.report(e.Err)
	}
}

// retryStream is the grpc.ClientStream the caller holds (under the internal/streamend wrapper
// that watches its end); it stands for a sequence of attempt streams, one at a time. As with
// any grpc.ClientStream, one goroutine may send while another receives, and Header may be
// called meanwhile (see Header).
//
// Its attempts do not end through internal/streamend: streamend watches one stream's context,
// and here each attempt's stream (and context) ends when that attempt fails while the caller's
// stream goes on. What the retry stream holds (the budget's context, the current attempt's
// context and timer) it releases in releaseLocked, once, when the committed attempt ends, or
// when the stream as a whole ends where nobody reads it (see StreamEnded): the caller's context
// ends, or gRPC ends the committed attempt (its ClientConn's shutdown commits a stream not yet
// committed to the attempt under way: see ConnClosed).
// Its Context is the call's, not an attempt's, so that the policies above it see its end and
// not its attempts'.
type retryStream struct {
	p        *Policy
	c        call
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption  // the call's options and &round: optsArr's, when they fit
	optsArr  [4]grpc.CallOption // a generated client's StaticMethod, a few of the caller's, &round

	parent     context.Context // the caller's
	callCtx    context.Context // parent, bounded by the budget
	callCancel context.CancelFunc

	// Used only by the goroutine that retries: the opener, then the one receiving (see
	// receiving).
	loop  loop
	round attempt.Round

	mu        sync.Mutex
	receiving bool                    // Guarded by mu: before commit, a RecvMsg, or a Header retrying, receives or retries.
	changed   sync.Cond               // On mu: broadcast when receiving ends, the attempt changes, the stream commits or ends.
	cur       grpc.ClientStream       // Guarded by mu: the current attempt's stream.
	cancel    context.CancelCauseFunc // Guarded by mu: cancels the current attempt.
	attTimer  clock.Timer             // Guarded by mu: the current attempt's timeout, until commit.
	attempt   *attemptTimeout         // Guarded by mu: the current attempt's timeout, when it has one: its flag, its end.
	n         int                     // Guarded by mu: the current attempt, 1-based.
	t0        time.Time               // Guarded by mu: when it started.
	committed bool                    // Guarded by mu: no more retries.
	accounted bool                    // Guarded by mu: the current attempt's outcome is reported, or being reported (the loop's, end's, StreamEnded's or a send's end's claim).
	broken    bool                    // Guarded by mu: the current attempt failed; sends only buffer.
	closeSent bool                    // Guarded by mu: the caller closed the send side.
	buf       attempt.Replay          // Guarded by mu: messages sent so far, until commit.
	final     error                   // Guarded by mu: the error the stream ended with for good.
	panicked  bool                    // Guarded by mu: a method of an attempt panicked; the stream answers from final.
	released  bool                    // Guarded by mu
	watching  grpc.ClientStream       // Guarded by mu: the attempt whose Header its watcher reads (see watchHeader).
	endReport chan struct{}           // Guarded by mu: made by StreamEnded as it claims the attempt, closed once it reported it.

	ctx       *streamContext     // Guarded by mu: what Context returns, made on first use.
	ctxCancel context.CancelFunc // Guarded by mu: ends ctx.
	ctxWatch  func() bool        // Guarded by mu: stops ending ctx with the committed attempt's.

	// The first attempt's per-attempt timeout, in the stream's own allocation; later attempts
	// allocate theirs, so that a late timer of an attempt never touches the next one's.
	firstTimeout     attemptTimeout // Guarded by mu
	firstTimeoutUsed bool           // Guarded by mu
}

// openLocked opens attempt n and replays the buffered messages on it. On error the attempt's
// context is canceled and the stream is marked broken; replayed says the error is a replayed
// send's own (not io.EOF: the client's, such as a message over the send limit), which ends the
// stream as SendMsg's does.
//
// The attempt's one context is a cancelable one, so that an attempt that failed is released
// at once; its per-attempt timeout, decided by attempt.BoundOf as for unary calls, is a
// timer that cancels it, because it is lifted when the stream commits. For a call with server
// streaming, a goroutine watches the attempt's header for that timer (watchHeader): a timer
// that finds the server answered and nobody receiving commits the stream instead. A call
// without server streaming has nothing to watch for: its one response comes with its status.
func (s *retryStream) openLocked(n int) (replayed bool, err error) {
	s.n, s.t0 = n, s.loop.clk.Now()
	// Attempt n is not reported yet.
	s.accounted = false
	s.round.Reset(s.loop.sent, s.loop.start, nil) // a stream's hedges outlive a decision: no shared cancel
	parent := s.loop.outgoing(s.callCtx, n)
	actx, cancel := context.WithCancelCause(parent)
	var (
		at clock.Timer
		to *attemptTimeout
	)
	b := attempt.BoundOf(s.callCtx, time.Time{}, s.t0, s.p.cfg.PerAttemptTimeout, false)
	if b.Needed {
		a := &s.firstTimeout
		if s.firstTimeoutUsed {
			a = new(attemptTimeout) // a late timer of an earlier attempt reads its own
		}
		s.firstTimeoutUsed = true
		a.ctx.parent, a.ctx.inner, a.cancel, a.s = parent, actx, cancel, s
		actx, to = &a.ctx, a
		at = s.loop.clk.AfterFunc(b.End.Sub(s.t0), a.fire)
	}
	// A hedging policy below sends no hedge it cannot finish before the timeout, which the
	// attempt's context does not carry as a deadline (see attempt.Round.SetEnd).
	var end time.Time
	if to != nil {
		end = b.End
	}
	s.round.SetEnd(end)
	s.cancel, s.attTimer, s.attempt = cancel, at, to
	st, err := s.streamer(actx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		s.stopAttemptLocked()
		s.broken = true
		return false, err
	}
	s.cur, s.broken = st, false
	s.changed.Broadcast()
	if to != nil && s.desc.ServerStreams {
		// The timer may find the server's answer waiting for a caller who reads late: the
		// watcher tells it whether the attempt's header came (see attemptTimeout.fire).
		to.st, s.watching = st, st
		go to.watchHeader()
	}
	for _, msg := range s.buf.Msgs() {
		if err := st.SendMsg(msg); err != nil {
			if errors.Is(err, io.EOF) {
				// The attempt failed; RecvMsg will tell how.
				s.broken = true
				return false, nil
			}
			s.stopAttemptLocked()
			s.broken = true
			return true, err
		}
	}
	if s.closeSent {
		_ = st.CloseSend()
	}
	return false, nil
}

// open opens attempt n (see openLocked) unless the stream committed in the meantime, which it
// reports. When the streamer panics, the stream ends for good before the panic goes on to the
// caller: nothing is left locked, and the attempt's context and timer are released.
func (s *retryStream) open(n int) (committed, replayed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return true, false, nil
	}
	opened := false
	defer func() {
		if !opened {
			s.endPanickedLocked(errOpenPanicked)
		}
	}()
	replayed, err = s.openLocked(n)
	opened = true
	return false, replayed, err
}

// errOpenPanicked is what a stream whose attempt's open panicked returns from then on.
var errOpenPanicked = status.Error(grpccodes.Internal, "retry: opening an attempt panicked")

// errRecvPanicked is what a stream whose attempt's RecvMsg panicked returns from then on.
var errRecvPanicked = status.Error(grpccodes.Internal, "retry: an attempt's receive panicked")

// errSendPanicked is what a stream whose attempt's SendMsg panicked returns from then on.
var errSendPanicked = status.Error(grpccodes.Internal, "retry: an attempt's send panicked")

// errHeaderPanicked is what a stream whose attempt's Header panicked returns from then on.
var errHeaderPanicked = status.Error(grpccodes.Internal, "retry: an attempt's header panicked")

// errTrailerPanicked is what a stream whose attempt's Trailer panicked returns from then on.
var errTrailerPanicked = status.Error(grpccodes.Internal, "retry: an attempt's trailer panicked")

// errCloseSendPanicked is what a stream whose attempt's CloseSend panicked returns from then on.
var errCloseSendPanicked = status.Error(grpccodes.Internal, "retry: an attempt's close of the send side panicked")

// errReportPanicked is what a stream returns from then on when the observer or the classifier
// panicked on an attempt's outcome (see retry and end).
var errReportPanicked = status.Error(grpccodes.Internal, "retry: the observer or the classifier panicked on an attempt's outcome")

// endPanickedLocked ends the stream for good with err (unless it had ended already) as a
// panic of its attempt's open, send, receive, Header, Trailer or CloseSend, or of the observer
// or the classifier on an attempt's outcome, goes on to the caller: what the stream holds is
// released, and the attempt is not reported (again). From then on the stream no longer calls
// the attempt: its Header returns final, its Trailer nil.
//
// The retry loop's timer is left alone: it is armed only while the goroutine that retries
// sleeps on it (loop.sleep stops or drains it before returning), and a panic of Header or
// Trailer (or of SendMsg, on the sender's goroutine) may come during that sleep, which then
// ends as it would and finds the stream ended (see fail).
func (s *retryStream) endPanickedLocked(err error) {
	if s.final == nil {
		s.final = err
	}
	s.panicked = true
	s.broken = true
	s.accounted = true
	s.releaseLocked()
}

// endPanicked is endPanickedLocked, for a caller that does not hold mu.
func (s *retryStream) endPanicked(err error) {
	s.mu.Lock()
	s.endPanickedLocked(err)
	s.mu.Unlock()
}

// attemptTimeout is what one stream attempt with a per-attempt timeout holds: its context, the
// flag its timer sets, and the cancel of its inner context, which end calls; fire, the timer's
// func, is its one method value; s is its stream. The attempt of a call with server streaming
// has its header watched besides (see watchHeader): st is then the attempt's stream, headers
// says that its header came, and statusOnly that the attempt ended with no header, the stream
// live on this side (the server's status alone, which waits for RecvMsg).
type attemptTimeout struct {
	ctx      attemptContext
	timedOut atomic.Bool
	cancel   context.CancelCauseFunc
	s        *retryStream

	st         grpc.ClientStream // Set before watchHeader starts.
	headers    atomic.Bool
	statusOnly atomic.Bool
}

// fire ends the attempt as timed out, unless the stream has committed to it meanwhile (the
// timer fired as the stream committed, too late for its Stop), or the server has answered it
// (its header came) and no receive waits on the stream: the caller, not the server, is then
// the one who is late, and the stream commits to the attempt instead (see spares).
func (a *attemptTimeout) fire() {
	spare, spared := a.s.spares(a)
	if spared > 0 {
		a.s.spared(spared)
	}
	if !spare {
		a.end(errAttemptTimeout)
	}
}

// spared sends the AttemptSpared of attempt n, which the timer's overtaking rule spared (see
// spares), once the stream's lock is given up, as every event of the stream is. It runs in
// the timer's goroutine, which has no caller to go to: a panic of the observer is recovered
// and dropped here, as the unary timer's is (cutTimer.spared), the attempt left running.
func (s *retryStream) spared(n int) {
	defer func() { _ = recover() }()
	l := &s.loop
	l.sink.Observe(observe.Event{
		Kind: observe.AttemptSpared, Time: l.clk.Now(), Service: l.m.Service, Method: l.m.Name,
		Policy: observe.PolicyRetry, Attempt: n, Delay: s.p.cfg.PerAttemptTimeout,
	})
}

// watchHeader waits for the header of the attempt (a call with server streaming, a per-attempt
// timeout armed: see openLocked) and records that it came: a header, no error. gRPC's Header
// returns when the header comes or the attempt ends, which the stream's end, a retry and the
// timer's own end all do (stopAttemptLocked, attemptTimeout.end), so the watcher ends with its
// attempt, and never outlives its stream. A Header that panics here has no caller to go on to:
// the panic is recovered and ends the stream for good, as a Header panic does in the caller's
// call (errHeaderPanicked, what the stream holds released, the attempt not reported), and the
// caller's next call returns Internal; re-raised in this goroutine, it would end the program.
//
// gRPC does not make an attempt's Header safe to call while its RecvMsg or another Header runs
// (with binary logging on, each reads and sets the stream's record of the logged header
// unlocked): the caller's RecvMsg and Header on the attempt wait until the watcher has
// returned (see waitWatcherLocked), which costs them nothing, as neither returns before the
// header, or the attempt's end, which the watcher's Header returns on too.
func (a *attemptTimeout) watchHeader() {
	read := false
	defer func() {
		if !read {
			_ = recover() // the stream's end below is its report (see above)
			a.s.endPanicked(errHeaderPanicked)
		}
		a.s.watched(a.st)
	}()
	md, err := a.st.Header()
	read = true
	switch {
	case md != nil && err == nil:
		a.headers.Store(true)
	case md == nil && err == nil && a.ctx.inner.Err() == nil && a.st.Context().Err() != nil:
		// gRPC ended the attempt (its stream's context, which reading after Header commits
		// nothing more), and this side did not: the server answered with its status alone (a
		// trailers-only response), or the transport failed; RecvMsg returns which.
		a.statusOnly.Store(true)
	}
}

// watched tells the stream that the watcher of attempt st has returned from its Header.
func (s *retryStream) watched(st grpc.ClientStream) {
	s.mu.Lock()
	if s.watching == st {
		s.watching = nil
		s.changed.Broadcast()
	}
	s.mu.Unlock()
}

// waitWatcherLocked waits, mu held, until no watcher reads the Header of attempt st (see
// watchHeader), so that the caller's own call of st's RecvMsg or Header does not run beside it.
func (s *retryStream) waitWatcherLocked(st grpc.ClientStream) {
	for st != nil && s.watching == st {
		s.changed.Wait()
	}
}

// spares reports whether attempt a, whose timer fired, lives on: when the stream has committed
// to it (the timeout was lifted, as the timer fired), when gRPC had ended it with the server's
// status alone (see watchHeader: the server answered in time, and the status, for RecvMsg to
// return and the loop to decide on, is not turned into a timeout, which the policies below
// would count against the service), and when its header came while no receive waits on the
// stream, when the stream commits to it (the timeout lifted, no retry after it) and is read
// on as the server sends it. A receive waiting (the server has sent no message
// since its header), no header, or a stream that has moved on to another attempt or ended, and
// the attempt ends as timed out. Its timedOut is set here, under the stream's lock, so that a
// commit that comes after (a reply or a header the caller reads from the attempt, which gRPC
// may still hand over once it has ended: see RecvMsg and Header) finds the attempt timed out.
//
// spared, when not 0, is the number over the call of the attempt that the overtaking rule
// spared, whose AttemptSpared fire sends, for a stream with a sink: the round's first, as its
// AttemptFinished numbers it.
func (s *retryStream) spares(a *attemptTimeout) (spare bool, spared int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.attempt != a || s.final != nil || s.cancel == nil:
		a.timedOut.Store(true)
		return false, 0 // moved on or ended: the attempt was ended already
	case s.committed:
		return true, 0
	case a.statusOnly.Load():
		s.attTimer = nil // fired
		return true, 0
	case !a.headers.Load() || s.receiving:
		if s.p.overtaking && !s.loop.m.overtaken(s.t0) {
			// CutOvertaken, and the service is slow for every caller: the attempt runs on,
			// uncommitted, to the call's end; the hedges below may go on too.
			s.attTimer = nil // fired
			s.round.SetEnd(time.Time{})
			if s.loop.sink != nil {
				spared = s.round.Prev() + 1 // Reset under mu, as the attempt opened
			}
			return true, spared
		}
		a.timedOut.Store(true)
		return false, 0
	}
	s.attTimer = nil // fired
	s.commitLocked()
	return true, 0
}

// end cancels the attempt's context with cause and, before it returns, cancels the contexts
// derived from it (see attemptContext.AfterFunc): each func registered and not yet stopped is
// taken back from inner, so that inner's cancel starts no goroutine for it, and called here.
func (a *attemptTimeout) end(cause error) {
	c := &a.ctx
	c.mu.Lock()
	c.ended = true
	first, more := c.first, []afterFunc(nil)
	if c.more != nil {
		more = *c.more
	}
	c.first, c.more = afterFunc{}, nil
	c.mu.Unlock()
	runFirst := first.f != nil && first.stop()
	for i := range more {
		if !more[i].stop() {
			more[i].f = nil // stopped by its context, or already run by inner's end
		}
	}
	a.cancel(cause)
	if runFirst {
		first.f()
	}
	for _, e := range more {
		if e.f != nil {
			e.f()
		}
	}
}

// attemptContext is the context of a stream attempt with a per-attempt timeout: inner, canceled
// by the timer with errAttemptTimeout, reads as context.DeadlineExceeded then, so that the
// policies under the retry loop count a timed-out attempt as they count a unary one. It has
// no deadline of its own: the timeout is lifted when the stream commits. Value answers from
// the parent, so that contexts derived from it do not attach to inner (whose Err is
// Canceled): they are canceled through AfterFunc and read Err.
//
// When the attempt ends (its timer fires, or the stream cancels it: a retry moves on, the
// stream ends), attemptTimeout.end cancels them before it returns, as a cancel context
// cancels its children. When the parent ends first, inner's end reaches them through
// context.AfterFunc, in a goroutine each, as it would a context derived from any context that
// the context package does not know.
type attemptContext struct {
	parent context.Context
	inner  context.Context

	mu    sync.Mutex
	first afterFunc    // Guarded by mu: the first func of AfterFunc, until the attempt ends.
	more  *[]afterFunc // Guarded by mu: the others (grpc registers one), made when needed.
	ended bool         // Guarded by mu: end took the funcs; later ones are inner's alone.
}

// afterFunc is a func of attemptContext.AfterFunc and the stop of its registration on inner.
type afterFunc struct {
	f    func()
	stop func() bool
}

func (c *attemptContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }

func (c *attemptContext) Done() <-chan struct{} { return c.inner.Done() }

func (c *attemptContext) Value(key any) any { return c.parent.Value(key) }

// AfterFunc lets context.WithCancel and its kin attach to c without a goroutine. f is
// registered on inner, which runs it when the parent ends c, and kept in c, whose end takes it
// back from inner and runs it at once. stop is inner's: once it has returned true, inner's
// registration is gone and end, whose own stop of it then returns false, does not run f.
func (c *attemptContext) AfterFunc(f func()) (stop func() bool) {
	stop = context.AfterFunc(c.inner, f)
	c.mu.Lock()
	switch {
	case c.ended: // inner's cancel, which end calls next or called, runs f
	case c.first.f == nil:
		c.first = afterFunc{f: f, stop: stop}
	default:
		if c.more == nil {
			c.more = new([]afterFunc)
		}
		*c.more = append(*c.more, afterFunc{f: f, stop: stop})
	}
	c.mu.Unlock()
	return stop
}

// Err reports context.DeadlineExceeded when the per-attempt timeout ended the attempt, even if
// the parent ended since (the retry loop releases the call's context once the attempt that
// timed out was its last); otherwise inner's error.
func (c *attemptContext) Err() error {
	err := c.inner.Err()
	if err != nil && context.Cause(c.inner) == errAttemptTimeout {
		return context.DeadlineExceeded
	}
	return err
}

// stopAttemptLocked stops the current attempt's timeout and cancels its context.
func (s *retryStream) stopAttemptLocked() {
	if s.attTimer != nil {
		s.attTimer.Stop()
		s.attTimer = nil
	}
	if s.cancel != nil {
		if s.attempt != nil {
			s.attempt.end(context.Canceled) // and the contexts derived from the attempt's
		} else {
			s.cancel(context.Canceled)
		}
		s.cancel = nil
	}
}

// commitLocked ends retrying: the buffer is dropped and the per-attempt timeout lifted.
func (s *retryStream) commitLocked() {
	if s.committed {
		return
	}
	s.committed = true
	s.changed.Broadcast()
	s.buf.Drop()
	if s.attTimer != nil {
		s.attTimer.Stop()
		s.attTimer = nil
	}
	s.round.SetEnd(time.Time{}) // lifted
	s.watchCommittedLocked()
}

// releaseLocked frees what the stream holds once it is over, and ends its context.
func (s *retryStream) releaseLocked() {
	if s.released {
		return
	}
	s.released = true
	s.changed.Broadcast()
	s.commitLocked()
	if s.ctxWatch != nil {
		s.ctxWatch()
		s.ctxWatch = nil
	}
	if s.ctxCancel != nil {
		s.ctxCancel()
	}
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

// SendMsg sends m on the current attempt and keeps it for replay until the stream commits.
// As grpc requires, m must not be modified after SendMsg returns. A SendMsg after CloseSend
// returns Internal and ends the stream, as grpc's does; m is not kept. When the attempt's SendMsg
// panics, the stream ends for good, what it holds released, before the panic goes on. When
// the send's own error ends the stream (see send), the attempt is reported once the stream is
// released, without its lock held: the classifier and the observer may panic, or call the
// stream.
func (s *retryStream) SendMsg(m any) error {
	n, t0, ended, err := s.send(m)
	if ended {
		s.account(n, t0, s.p.s.Classifier.Classify(err))
	}
	return err
}

// send is SendMsg. ended says that the send's error ended the stream, which is released, and
// that attempt n, started at t0, is the caller's to report.
//
// The attempt's SendMsg runs without the stream's lock, as grpc-go's own retries send: it may
// block on flow control until the caller receives (a bidirectional stream whose server reads
// on once its replies are read), and RecvMsg, on another goroutine, takes the lock. The
// message is kept before the send, so a retry that replaces the attempt meanwhile replays it.
func (s *retryStream) send(m any) (n int, t0 time.Time, ended bool, err error) {
	s.mu.Lock()
	if s.final != nil {
		s.mu.Unlock()
		return 0, time.Time{}, false, io.EOF
	}
	if s.closeSent {
		// The caller's error, which grpc answers so and which ends its stream: m is neither
		// sent nor kept, so that no replay sends it before closing the send side again.
		defer s.mu.Unlock()
		return s.sendFailedLocked(errSendAfterClose)
	}
	if !s.committed && !s.buf.Add(m) {
		s.commitLocked()
	}
	if s.broken {
		committed := s.committed
		s.mu.Unlock()
		if committed {
			return 0, time.Time{}, false, io.EOF
		}
		return 0, time.Time{}, false, nil
	}
	st := s.cur
	s.mu.Unlock()
	sent := false // out of the attempt's SendMsg
	defer func() {
		if !sent {
			s.endPanicked(errSendPanicked)
		}
	}()
	err = st.SendMsg(m)
	sent = true
	if err == nil {
		return 0, time.Time{}, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.cur != st:
		// A retry replaced the attempt meanwhile, and replayed m on the next one: m was kept,
		// since the stream had not committed when it was sent.
		return 0, time.Time{}, false, nil
	case s.final != nil:
		// The stream ended meanwhile; its outcome is reported, its status RecvMsg's.
		return 0, time.Time{}, false, err
	case s.broken:
		// The attempt failed meanwhile and RecvMsg handles its failure: a retry replays m,
		// kept unless the stream committed.
		if !s.committed {
			return 0, time.Time{}, false, nil
		}
		return 0, time.Time{}, false, err
	case errors.Is(err, io.EOF):
		if !s.committed {
			s.broken = true
			return 0, time.Time{}, false, nil
		}
	default:
		// The client's own error (a message over the size limit, say): grpc ended the attempt
		// with it, and the stream with the attempt, as it would without the retry loop. Not
		// retried: another attempt would fail alike. The receiver, if one is waiting, gets
		// the same error from final, and reports nothing: the attempt is SendMsg's to report.
		return s.sendFailedLocked(err)
	}
	return s.n, s.t0, ended, err
}

// errSendAfterClose is what a SendMsg after CloseSend returns, with grpc's words for it.
var errSendAfterClose = status.Error(grpccodes.Internal, "SendMsg called after CloseSend")

// sendFailedLocked ends the stream for good with err, a send's own error, and returns what
// send returns: the current attempt is the caller's to report, unless it was already.
func (s *retryStream) sendFailedLocked(err error) (n int, t0 time.Time, ended bool, _ error) {
	s.final = err
	if !s.accounted {
		s.accounted, ended = true, true
		s.loop.stop()
	}
	s.releaseLocked()
	return s.n, s.t0, ended, err
}

// CloseSend closes the send side of the current attempt, and of every later one. When the
// attempt's CloseSend panics, the stream ends for good, what it holds released, before the
// panic goes on.
func (s *retryStream) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeSent = true
	if s.broken || s.final != nil {
		return nil
	}
	closing := true // in the attempt's CloseSend
	defer func() {
		if closing {
			s.endPanickedLocked(errCloseSendPanicked)
		}
	}()
	err := s.cur.CloseSend()
	closing = false
	return err
}

// current returns the current attempt's stream, nil when there is none.
func (s *retryStream) current() grpc.ClientStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Header returns the header metadata of the current attempt, and commits the stream to it: once
// the caller has read an attempt's header, no other attempt follows (gRFC A6 commits a call
// when its response headers arrive; grpc-go's Header commits too). Before the stream commits,
// an attempt that ended without a header (the server failed it at once: gRPC's Header returns
// nil, nil), or that its per-attempt timeout ended before its header was read (gRPC hands that
// header over all the same), is handled as RecvMsg handles its failure, as grpc-go's own
// retries do in Header: when the policy retries its status, Header opens the next attempt,
// replays the messages sent, and returns that attempt's header; when it does not, the stream is
// over, and Header returns nil, nil, as gRPC's does, and RecvMsg the status. A RecvMsg under
// way retries the attempt itself: Header waits for it, and reads the header of the attempt it
// moved on to, or committed to. When the attempt's Header panics, the stream ends for good,
// what it holds released, before the panic goes on; Header returns Internal from then on.
func (s *retryStream) Header() (metadata.MD, error) {
	reading := false // in the attempt's Header (or Context)
	defer func() {
		if reading {
			s.endPanicked(errHeaderPanicked)
		}
	}()
	for {
		s.mu.Lock()
		s.waitWatcherLocked(s.cur)
		st, settled, final := s.cur, s.committed || s.final != nil, s.final
		if s.panicked {
			st = nil
		}
		s.mu.Unlock()
		if st == nil {
			return nil, final
		}
		reading = true
		md, err := st.Header()
		ended := !settled && md == nil && err == nil && st.Context().Err() != nil
		reading = false
		if !ended {
			// A header, the committed attempt's outcome, or no end (a stream that is not
			// gRPC's may say nothing yet). A header commits the stream to its attempt,
			// unless the stream has moved on meanwhile: Header then reads the next one's.
			if md != nil && !settled {
				switch s.commitTo(st) {
				case headerMovedOn:
					continue
				case headerTimedOut:
					// The per-attempt timeout ended the attempt before its header was
					// read: gRPC hands the header over all the same, but the attempt's
					// stream is lost. It is retried, as RecvMsg retries it, and Header
					// reads the next attempt's.
					s.retryHeaderless(st, true)
					continue
				}
			}
			if md == nil && settled {
				s.endedInHeader(st)
			}
			return md, err
		}
		s.retryHeaderless(st, false)
	}
}

// endedInHeader ends the stream's context now when the attempt st it committed to ended in
// Header (no header: gRPC has ended the attempt's context and left its status for RecvMsg),
// rather than a moment later from the context.AfterFunc that follows the attempt's context
// (watchCommittedLocked): as with gRPC's own stream, the stream's context has ended by the time
// Header returns no header, which is how the policies above (internal/streamend) tell a stream
// ended in Header, whose status RecvMsg returns, from one gRPC ended while nobody read it.
func (s *retryStream) endedInHeader(st grpc.ClientStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil && s.committed && !s.released && s.cur == st && st.Context().Err() != nil {
		s.ctxCancel()
	}
}

// headerCommit is what commitTo did with the attempt whose header Header read.
type headerCommit uint8

const (
	headerCommitted headerCommit = iota // committed to it, or the stream was settled already
	headerMovedOn                       // the stream moved on to another attempt
	headerTimedOut                      // its per-attempt timeout ended it: not committed
)

// commitTo commits the stream to attempt st, whose header Header read (headerCommitted), unless
// the stream has moved on to another attempt meanwhile (a RecvMsg retried st: headerMovedOn),
// or st's per-attempt timeout ended it before the stream committed (headerTimedOut: the
// stream stays uncommitted, for st to be retried). A stream that ended for good meanwhile stays
// as it ended: st was its last attempt. Committing is what grpc-go's Header does too: what the
// caller read of one attempt is not followed by another attempt's messages. A retry under way
// on st (its backoff) sees the commit and ends the stream with st's failure.
func (s *retryStream) commitTo(st grpc.ClientStream) headerCommit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != st {
		return headerMovedOn
	}
	if s.final == nil {
		if !s.committed && s.attempt != nil && s.attempt.timedOut.Load() {
			return headerTimedOut
		}
		s.commitLocked()
	}
	return headerCommitted
}

// retryHeaderless handles the end of attempt st, which ended without a header, for Header:
// it reads the attempt's status and retries it as RecvMsg would, or ends the stream; timedOut:
// st's per-attempt timeout ended it after its header came (see commitTo), and it is retried
// as timed out, its status not read (a reply gRPC had buffered would come first). When a
// RecvMsg is receiving, it waits for it to do so instead. Either way, when it returns the
// stream has moved on to another attempt, committed or ended, and Header reads again.
func (s *retryStream) retryHeaderless(st grpc.ClientStream, timedOut bool) {
	s.mu.Lock()
	for s.receiving && s.cur == st && !s.committed && s.final == nil {
		s.changed.Wait()
	}
	if s.cur != st || s.committed || s.final != nil {
		s.mu.Unlock()
		return
	}
	s.receiving = true
	n, t0 := s.n, s.t0
	s.mu.Unlock()
	defer s.doneReceiving()
	if timedOut {
		_ = s.retry(s.timedOutErr(), s.attemptTrailer(st)) // as below
		return
	}
	received := false
	defer func() {
		if !received {
			s.endPanicked(errRecvPanicked)
		}
	}()
	// No header, so no message either: RecvMsg returns the attempt's status alone, and is
	// given nothing to receive into.
	err := st.RecvMsg(nil)
	received = true
	if err == nil || errors.Is(err, io.EOF) {
		// The attempt ended well (a server stream's io.EOF): the stream commits to it, and
		// ends with it, which the next RecvMsg returns. (A message, nil, cannot come without
		// a header: the stream would only commit.)
		s.mu.Lock()
		s.commitLocked()
		if err != nil {
			s.final = err
		}
		s.mu.Unlock()
		if err != nil {
			s.end(st, n, t0, err)
		}
		return
	}
	_ = s.retry(err, s.attemptTrailer(st)) // the error, if the stream ends, is RecvMsg's to return
}

// doneReceiving ends the turn of a RecvMsg, or of a Header retrying, at receiving before the
// stream commits.
func (s *retryStream) doneReceiving() {
	s.mu.Lock()
	s.receiving = false
	s.changed.Broadcast()
	s.mu.Unlock()
}

// Trailer returns the trailer metadata of the current attempt: nil when there is none, or
// when a method of an attempt panicked (see attemptTrailer).
func (s *retryStream) Trailer() metadata.MD {
	s.mu.Lock()
	st, panicked := s.cur, s.panicked
	s.mu.Unlock()
	if st == nil || panicked {
		return nil
	}
	return s.attemptTrailer(st)
}

// attemptTrailer returns the trailer of attempt st, for the caller or for the retry loop's
// classification. When the attempt's Trailer panics, the stream ends for good, what it holds
// released, before the panic goes on.
func (s *retryStream) attemptTrailer(st grpc.ClientStream) metadata.MD {
	read := false
	defer func() {
		if !read {
			s.endPanicked(errTrailerPanicked)
		}
	}()
	md := st.Trailer()
	read = true
	return md
}

// Context returns the stream's context: the call's (bounded by the budget), which ends when
// the stream is over for good, or with the attempt it committed to, but not with an attempt
// that the stream may still retry. The policies above the retry loop watch it for the stream's
// end (internal/streamend): an attempt's context ends when its per-attempt timeout fires, with
// nobody reading, and the stream goes on with the next attempt at the next RecvMsg. Its values
// are the call's context's, then the current attempt stream's (the peer, say).
func (s *retryStream) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		inner, cancel := context.WithCancel(s.callCtx)
		s.ctx, s.ctxCancel = &streamContext{Context: inner, s: s}, cancel
		if s.released {
			cancel()
		} else {
			s.watchCommittedLocked()
		}
	}
	return s.ctx
}

// watchCommittedLocked ends the stream's context with the context of the attempt the stream
// committed to, once both exist: gRPC ending that attempt (its connection closed, say) ends the
// stream, as it ends a stream without a retry loop.
func (s *retryStream) watchCommittedLocked() {
	if s.ctx == nil || !s.committed || s.released || s.ctxWatch != nil || s.cur == nil {
		return
	}
	c := s.cur.Context()
	if c.Err() != nil {
		s.ctxCancel() // ended already: at once, not from a callback a moment later (see endedInHeader)
		return
	}
	s.ctxWatch = context.AfterFunc(c, s.ctxCancel)
}

// ConnClosed runs when the stream's ClientConn has shut down (internal/streamend, once,
// before the stream ended): a stream not yet committed commits to its current attempt, as
// nothing is lost by it any more (a ClientConn shut down retries nothing: a new attempt on it
// fails at once, Canceled), so that the stream's Context ends with that attempt's, which gRPC
// ends with the ClientConn (at once when the attempt is over already). The stream then ends,
// though nobody reads it and its caller's context lives on: streamend's Transport end, on
// which StreamEnded reports the attempt as gRPC ended it (Canceled) and releases the stream.
// A RecvMsg under way returns its attempt's error, not retried, and reports it; one sleeping
// before a retry, whose attempt was reported, wakes with the ClientConn's shutdown
// (loop.sleep) and returns Canceled (errConnClosing).
func (s *retryStream) ConnClosed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final == nil && !s.released {
		s.commitLocked()
	}
}

// streamContext is the retry stream's context (see retryStream.Context): the call's, ended
// with the stream, with the current attempt stream's values besides.
type streamContext struct {
	context.Context
	s *retryStream
}

// Value answers from the call's context first, so that a context derived from this one
// attaches to it (and context.Cause reads its cause), then from the current attempt's stream,
// whose context holds what gRPC set for the attempt.
func (c *streamContext) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	if st := c.s.current(); st != nil {
		return st.Context().Value(key)
	}
	return nil
}

// RecvMsg receives on the current attempt. Before the stream commits, a failure is retried
// as the policy says: a new attempt is opened, the sent messages replayed, and RecvMsg
// receives from it. Until the stream commits, RecvMsg takes its turn at receiving, so that
// Header does not retry the same attempt meanwhile (see Header). When the attempt's RecvMsg
// panics, the stream ends for good, what it holds released, before the panic goes on to the
// caller; later calls return Internal.
func (s *retryStream) RecvMsg(m any) error {
	s.mu.Lock()
	if !s.committed && s.final == nil {
		for s.receiving { // Header retries an attempt that ended without a header
			s.changed.Wait()
		}
		s.receiving = true
		defer s.doneReceiving()
	}
	receiving := false // in the attempt's RecvMsg
	defer func() {
		if receiving {
			s.endPanicked(errRecvPanicked)
		}
	}()
	for {
		if s.final == nil && s.watching != nil && s.watching == s.cur {
			s.waitWatcherLocked(s.cur) // the attempt's Header is the watcher's until it returns
			continue                   // the stream may have moved on, or ended, meanwhile
		}
		if s.final != nil {
			err := s.final
			s.mu.Unlock()
			return err
		}
		st, committed, n, t0, to := s.cur, s.committed, s.n, s.t0, s.attempt
		s.mu.Unlock()
		receiving = true
		err := st.RecvMsg(m)
		receiving = false
		if err == nil && !committed && s.desc.ServerStreams && !s.commitReply(to) {
			// A reply of an attempt that its per-attempt timeout ended: gRPC hands over what it
			// had buffered, but the rest of the attempt's stream is lost. The reply is not the
			// caller's: the attempt timed out, and is retried as one whose receive failed so.
			err = s.timedOutErr()
		} else if err == nil || errors.Is(err, io.EOF) || committed {
			// A message or a clean end commits the stream; the attempt's outcome is the
			// stream's end: an error, io.EOF, or the one response of a call without server
			// streaming (gRPC's RecvMsg returns it once the call's OK status came).
			if !committed && (err != nil || !s.desc.ServerStreams) {
				s.mu.Lock()
				s.commitLocked()
				s.mu.Unlock()
			}
			if err != nil || !s.desc.ServerStreams {
				s.end(st, n, t0, err)
			}
			return err
		}
		if ferr := s.retry(err, s.attemptTrailer(st)); ferr != nil {
			return ferr
		}
		s.mu.Lock()
	}
}

// commitReply commits the stream to the attempt whose per-attempt timeout is to (nil: none), of
// a call with server streaming, from which RecvMsg read a reply, and reports true; unless the
// timeout ended the attempt (its timedOut, which spares sets under the lock) before the stream
// committed, when it reports false and the stream stays uncommitted.
func (s *retryStream) commitReply(to *attemptTimeout) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.committed && to != nil && to.timedOut.Load() {
		return false
	}
	s.commitLocked()
	return true
}

// timedOutErr is the error of an attempt that its per-attempt timeout ended, read from (a reply,
// a header) before the stream saw its failure: a per-attempt timeout's DeadlineExceeded, or the
// call's context's error once that ended too.
func (s *retryStream) timedOutErr() error {
	if err := s.callCtx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return attemptTimedOut(context.Canceled, s.p.cfg.PerAttemptTimeout)
}

// end accounts the committed attempt n (stream st, started at t0), which ended with err (nil or
// io.EOF: success), unless SendMsg did, and releases the stream. When the classifier or the
// observer panics, the stream ends for good (errReportPanicked) before the panic goes on.
func (s *retryStream) end(st grpc.ClientStream, n int, t0 time.Time, err error) {
	s.mu.Lock()
	mine := !s.accounted
	s.accounted = true
	s.mu.Unlock()
	if mine {
		reported := false
		defer func() {
			if !reported {
				s.endPanicked(errReportPanicked)
			}
		}()
		v := codes.Verdict{Class: codes.Success, Code: grpccodes.OK}
		if err != nil && !errors.Is(err, io.EOF) {
			v = s.p.s.Classifier.ClassifyTrailer(err, s.attemptTrailer(st))
		}
		s.account(n, t0, v)
		reported = true
	}
	s.release()
}

// StreamEnded reports the last attempt of a stream that ended while nobody was reading or writing
// it (streamend's Caller and Transport ends): the caller's context ended (the stream was
// abandoned), or gRPC ended the attempt the stream committed to. RecvMsg and SendMsg report
// the other ends themselves, as does the retry loop each attempt it retried or gave up on, so
// the attempt under way is reported here unless it was already, or the loop is reporting it:
// each attempt once. Each of them claims the attempt's report under the stream's lock
// (accounted), and the loop's state is the claimant's alone: a receive that began just after
// streamend saw the end (its look for a call under way came first) and failed meanwhile is
// not reported twice, nor retried, whichever claims first. The stream
// is then released; a RecvMsg after it returns what the attempt's does. The attempt is
// reported with the error of its own context, which gRPC ended (its service config's timeout:
// DeadlineExceeded) or the caller's context did, not with that of the context the end was seen
// on: the stream's context ends with the committed attempt's, Canceled, and a policy above
// that sees the end first may release the context it gave the stream, which is then seen as
// the caller's end.
func (s *retryStream) StreamEnded(e streamend.End) {
	if e.Cause != streamend.Caller && e.Cause != streamend.Transport {
		return
	}
	s.mu.Lock()
	if s.accounted || s.final != nil {
		s.mu.Unlock()
		return
	}
	s.accounted = true
	n, t0, st := s.n, s.t0, s.cur
	report := make(chan struct{})
	s.endReport = report
	s.mu.Unlock()
	reported := false
	defer func() {
		if !reported {
			s.endPanicked(errReportPanicked)
		}
		close(report) // a receive that found the attempt claimed returns now (see retryLoop)
	}()
	err := e.Err
	if st != nil {
		if aerr := st.Context().Err(); aerr != nil {
			err = aerr
		}
	}
	// A hedging policy below that has neither reported any of the round's attempts nor taken
	// the round reports none later, nor sends any (a RecvMsg of the caller's after the end):
	// the loop reports it here. One that has keeps its reports (account reads Reported).
	s.round.Claim()
	s.account(n, t0, s.p.s.Classifier.Classify(err))
	reported = true
	s.mu.Lock()
	s.releaseLocked()
	s.loop.stop()
	s.mu.Unlock()
}

// account reports the committed attempt n, started at t0, which ended with verdict v: its
// AttemptFinished (unless a hedging policy below reported it), the retry budget, Report.
func (s *retryStream) account(n int, t0 time.Time, v codes.Verdict) {
	s.loop.finished(s.parent, n, t0, v, tallyOf(&s.round))
	s.loop.report(v)
}

// committedNow reports whether the stream committed (the caller outgrew the replay buffer).
func (s *retryStream) committedNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// retry handles the failure err of the current attempt before commit: it opens the next
// attempt (after the backoff sleep) and returns nil, or ends the stream and returns the error
// the caller gets. What follows the failure is the loop's decision, as for unary calls. When
// the classifier or the observer panics on the way (on the attempt's AttemptFinished, on
// RetryScheduled, on RetriesExhausted), the stream ends for good (errReportPanicked) before
// the panic goes on: it is not retried again at the next call.
func (s *retryStream) retry(err error, trailer metadata.MD) error {
	decided := false
	defer func() {
		if !decided {
			s.endPanicked(errReportPanicked)
		}
	}()
	err = s.retryLoop(err, trailer)
	decided = true
	return err
}

// retryLoop is retry without its panic handling.
func (s *retryStream) retryLoop(err error, trailer metadata.MD) error {
	for {
		s.mu.Lock()
		if s.final != nil {
			// SendMsg ended the stream, and accounted the attempt, meanwhile.
			err := s.final
			s.mu.Unlock()
			return err
		}
		if s.accounted {
			// The stream ended meanwhile while nobody was reading (StreamEnded: a caller's
			// end that streamend saw just before this receive began), and the attempt was
			// reported so: the stream ends with the attempt's error, which is neither
			// reported again nor retried. The loop is StreamEnded's now. The receive returns
			// once that report is out, so that the attempt's AttemptFinished comes before
			// what the caller's end brings (the suite's CallFinished).
			s.final = err
			s.broken = true
			s.releaseLocked()
			report := s.endReport
			s.mu.Unlock()
			if report != nil {
				<-report
			}
			return err
		}
		// The loop reports attempt n: StreamEnded and a send's end (sendFailedLocked) no
		// longer do, until the next attempt opens (openLocked).
		s.accounted = true
		n, t0, to := s.n, s.t0, s.attempt
		s.broken = true
		s.stopAttemptLocked()
		s.mu.Unlock()
		if to != nil && to.timedOut.Load() && s.callCtx.Err() == nil {
			err = attemptTimedOut(err, s.p.cfg.PerAttemptTimeout)
			// A hedging policy below learns that its attempts ran at least so long, as
			// for a unary call (see run).
			s.round.TimedOut()
		}
		v := s.p.s.Classifier.ClassifyTrailer(err, trailer)
		s.loop.finished(s.parent, n, t0, v, tallyOf(&s.round))
		if ok, ferr := s.loop.next(s.parent, s.callCtx, n, v, err, s.committedNow); !ok {
			return s.fail(ferr)
		}
		if testHookBeforeRetryOpen != nil {
			testHookBeforeRetryOpen(s)
		}
		committed, replayed, oerr := s.open(n + 1)
		if committed {
			// The caller outgrew the replay buffer since the check after the sleep: the
			// retry decided on is not made, and the budget gets back what it drew for it.
			s.loop.unsent()
			s.loop.report(v)
			return s.fail(err)
		}
		if err = oerr; err == nil {
			return nil
		}
		if replayed {
			// A kept message, sent while the attempt it was meant for had failed, met the
			// client's own limit (its size, say) in the replay: the stream ends with that
			// error, as SendMsg's ends it, without a retry, which would fail alike.
			return s.failReplay(err)
		}
		trailer = nil
	}
}

// testHookBeforeRetryOpen, when not nil, runs once the loop has decided on a retry (its
// backoff passed, the stream found uncommitted) and before its attempt is opened: a test
// commits the stream there, as a caller's send may meanwhile.
var testHookBeforeRetryOpen func(*retryStream)

// failReplay ends the stream for good with err, the client's own error of a replayed send on
// the attempt just opened, which it reports.
func (s *retryStream) failReplay(err error) error {
	s.mu.Lock()
	n, t0, mine := s.n, s.t0, !s.accounted
	s.accounted = true
	s.mu.Unlock()
	if !mine {
		// StreamEnded reported the attempt meanwhile, and has the loop.
		return s.fail(err)
	}
	v := s.p.s.Classifier.Classify(err)
	s.loop.finished(s.parent, n, t0, v, tallyOf(&s.round))
	s.loop.report(v)
	return s.fail(err)
}

// fail ends the stream for good with err, the call already reported, and returns the error
// the caller gets: err, or what the stream ended with meanwhile (a panic of the attempt's
// Header, say, during the backoff sleep).
func (s *retryStream) fail(err error) error {
	s.mu.Lock()
	if s.final == nil {
		s.final = err
	} else {
		err = s.final
	}
	s.releaseLocked()
	s.loop.stop()
	s.mu.Unlock()
	return err
}
