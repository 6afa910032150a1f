package hedge

import (
	"context"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// call is one hedged call (a unary call, or the reply phase of a client stream) while it runs.
//
// Attempt 1 runs on the caller's goroutine, into the caller's reply. The hedging timer, armed
// from the clock with AfterFunc, starts each further attempt in the timer's goroutine. Hedges write into
// fresh messages, and the winner's is merged into the caller's reply once every attempt has
// returned, so that no two goroutines ever write the caller's reply.
//
// Every goroutine the call starts, and every armed timer, holds one count of wg: the caller
// waits for all of them before it returns, which also makes the call safe to reuse from
// the pool afterwards.
type call struct {
	p     *Policy
	m     *methodInfo
	cs    *settings
	ctx   context.Context          // the caller's
	reply proto.Message            // the caller's: written only by attempt 1, until every attempt returned
	typ   protoreflect.MessageType // of reply, read before attempt 1 starts: hedges' replies
	start time.Time
	delay time.Duration
	limit int

	// What a hedge runs: a unary call (invoker set) or a client stream's replay (st set).
	method  string
	req     any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	st      *stream

	fire       func() // c.onTimer, bound once per pooled call
	timer      clock.Timer
	timerClock clock.Clock

	wg sync.WaitGroup

	mu       sync.Mutex
	armed    bool                            // Guarded by mu: the timer will start the next hedge.
	stale    int                             // Guarded by mu: timer firings to ignore (Stop came too late).
	sent     int                             // Guarded by mu: attempts started, the first included.
	inflight int                             // Guarded by mu: attempts started and not finished.
	closed   bool                            // Guarded by mu: no further hedge may start.
	winner   int                             // Guarded by mu: the attempt whose outcome is the call's, or 0.
	winErr   error                           // Guarded by mu
	winV     codes.Verdict                   // Guarded by mu
	winReply proto.Message                   // Guarded by mu: the winning hedge's reply.
	lastErr  error                           // Guarded by mu: the last retryable failure.
	cancels  [maxAttempts]context.CancelFunc // Guarded by mu: each attempt's, by attempt-1.
	outs     [maxAttempts]attemptOut         // each hedge's own; written by it, read after wg.Wait
}

// attemptOut is what grpc writes back through call options, and the stream, of one hedge.
type attemptOut struct {
	header, trailer metadata.MD
	peer            peer.Peer
	stream          grpc.ClientStream
}

var callPool = sync.Pool{New: func() any {
	c := new(call)
	c.fire = c.onTimer
	return c
}}

// newCall returns a pooled call, set up but not begun.
func (p *Policy) newCall(ctx context.Context, m *methodInfo, cs *settings, reply proto.Message) *call {
	c := callPool.Get().(*call)
	c.p, c.m, c.cs, c.ctx, c.reply = p, m, cs, ctx, reply
	c.typ = reply.ProtoReflect().Type()
	c.limit = p.cfg.MaxAttempts
	return c
}

// release clears the call and puts it back in the pool. Every attempt has returned.
func (c *call) release() {
	fire, timer, timerClock := c.fire, c.timer, c.timerClock
	*c = call{fire: fire, timer: timer, timerClock: timerClock}
	callPool.Put(c)
}

// begin records attempt 1 (started now by the caller, canceled by cancel1) and arms the timer
// of the first hedge.
func (c *call) begin(cancel1 context.CancelFunc) {
	c.start = c.cs.clock.Now()
	c.delay = c.p.delay(c.m)
	c.mu.Lock()
	c.cancels[0] = cancel1
	c.sent, c.inflight = 1, 1
	c.armLocked()
	c.mu.Unlock()
}

// armLocked sets the timer to start the next hedge after the delay.
func (c *call) armLocked() {
	c.wg.Add(1)
	c.armed = true
	clk := c.cs.clock
	if c.timer == nil || c.timerClock != clk {
		c.timer, c.timerClock = clk.AfterFunc(c.delay, c.fire), clk
		return
	}
	c.timer.Reset(c.delay)
}

// disarmLocked stops the timer. When it has already fired, its callback is on its way and
// will find itself stale.
func (c *call) disarmLocked() {
	if !c.armed {
		return
	}
	c.armed = false
	if c.timer.Stop() {
		c.wg.Done()
	} else {
		c.stale++
	}
}

// closeLocked ends hedging: no further attempt starts, and every attempt but the winner is
// canceled.
func (c *call) closeLocked() {
	c.closed = true
	c.disarmLocked()
	for i, cancel := range c.cancels[:c.sent] {
		if i+1 != c.winner && cancel != nil {
			cancel()
		}
	}
}

// reserveLocked takes the number of the next hedge, or returns 0 when none may start: the call
// is decided or closed, MaxAttempts were sent, the caller is gone, or the budget refuses
// (which closes the call to further hedges).
func (c *call) reserveLocked() int {
	if c.closed || c.winner != 0 || c.sent >= c.limit || c.ctx.Err() != nil {
		return 0
	}
	if b := c.cs.budget; b != nil && !b.Withdraw() {
		c.closed = true
		c.disarmLocked()
		return 0
	}
	c.sent++
	c.inflight++
	return c.sent
}

// onTimer is the timer's callback: the hedging delay passed with no answer.
func (c *call) onTimer() {
	c.mu.Lock()
	if c.stale > 0 {
		c.stale--
		c.mu.Unlock()
		c.wg.Done()
		return
	}
	c.armed = false
	n := c.reserveLocked()
	if n == 0 {
		c.mu.Unlock()
		c.wg.Done()
		return
	}
	if c.sent < c.limit {
		c.armLocked()
	}
	c.mu.Unlock()
	c.hedgeSent(n, observe.ReasonHedgeDelay)
	c.runHedge(n) // the timer's count of wg passes to the attempt
}

// runHedge runs hedge n (≥ 2) into a fresh reply and reports its outcome.
func (c *call) runHedge(n int) {
	defer c.wg.Done()
	actx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(c.ctx, PreviousAttemptsKey, previous[n]))
	defer cancel()
	c.mu.Lock()
	c.cancels[n-1] = cancel
	decided := c.winner != 0
	c.mu.Unlock()
	reply := c.typ.New().Interface()
	t0 := c.cs.clock.Now()
	var err error
	if decided {
		// Decided between the hedge's start and now: it never goes out.
		err = status.FromContextError(context.Canceled).Err()
	} else {
		err = c.attempt(actx, n, reply)
	}
	c.finish(n, t0, err, reply)
}

// attempt runs hedge n.
func (c *call) attempt(ctx context.Context, n int, reply proto.Message) error {
	out := &c.outs[n-1]
	opts := make([]grpc.CallOption, len(c.opts))
	for i, o := range c.opts {
		// Call options that write back to the caller are given the hedge's own targets: the
		// winner's are copied to the caller's at the end.
		switch o.(type) {
		case grpc.HeaderCallOption:
			o = grpc.Header(&out.header)
		case grpc.TrailerCallOption:
			o = grpc.Trailer(&out.trailer)
		case grpc.PeerCallOption:
			o = grpc.Peer(&out.peer)
		}
		opts[i] = o
	}
	if c.st != nil {
		return c.st.replay(ctx, reply, out, opts)
	}
	return c.invoker(ctx, c.method, c.req, reply, c.cc, opts...)
}

// finish takes the outcome of attempt n, started at t0: the first success or fatal outcome
// wins and cancels the others. A retryable failure does not start a hedge early: the attempts
// still in flight go on (and the next hedge goes at its delay), and when none is left the call
// fails with the last error, for the retry loop around the hedge to handle with its backoff,
// its pushback rules and its budget. Failures are the retry policy's business; hedging is for
// answers that are slow to come.
func (c *call) finish(n int, t0 time.Time, err error, reply proto.Message) {
	now := c.cs.clock.Now()
	v := c.cs.classifier.Classify(err)
	c.mu.Lock()
	lost := c.winner != 0
	switch {
	case lost:
	case !v.Class.Retryable():
		c.winner, c.winErr, c.winV = n, err, v
		if n > 1 {
			c.winReply = reply
		}
		c.closeLocked()
	default:
		c.lastErr = err
	}
	c.inflight--
	if c.inflight == 0 && c.winner == 0 {
		// Every attempt sent has failed: the call fails with lastErr.
		c.closed = true
		c.disarmLocked()
	}
	c.mu.Unlock()

	d := now.Sub(t0)
	if est := c.m.est; est != nil {
		switch {
		case v.Class == codes.Success || v.Class == codes.Business:
			est.record(d)
		case lost && d >= c.delay && c.ctx.Err() == nil:
			// A loser canceled after the delay: its latency is longer than d, which is
			// already past the delay. Counting d keeps the slow tail in the window; leaving
			// it out would drag the percentile down with every hedge that wins.
			est.record(d)
		}
	}
	// Only hedges are reported as attempts: the first attempt is the call itself, which the
	// policy wrapping the hedge (the suite's retry loop) reports. So attempt events, and the
	// attempt metrics built from them, count every request sent exactly once.
	if sink := c.cs.sink; sink != nil && n > 1 {
		sink.Observe(observe.Event{
			Kind: observe.AttemptFinished, Time: now, Service: c.m.service, Method: c.m.name,
			Policy: observe.PolicyHedge, Attempt: n, Code: v.Code, Class: v.Class, Duration: d,
		})
	}
}

func (c *call) hedgeSent(n int, reason string) {
	if sink := c.cs.sink; sink != nil {
		now := c.cs.clock.Now()
		sink.Observe(observe.Event{
			Kind: observe.HedgeSent, Time: now, Service: c.m.service, Method: c.m.name,
			Policy: observe.PolicyHedge, Attempt: n, Delay: now.Sub(c.start), Reason: reason,
		})
	}
}

// wait is the caller's side once attempt 1 has returned with err1 and been finished: it waits
// for every other attempt, then returns the winner (0 when every attempt failed) and the
// call's error. A winning hedge's reply is merged into the caller's.
func (c *call) wait(err1 error) (int, error) {
	c.wg.Wait()
	c.mu.Lock()
	winner, winErr, v, lastErr := c.winner, c.winErr, c.winV, c.lastErr
	c.mu.Unlock()
	switch {
	case winner == 1:
		return 1, err1
	case winner == 0:
		return 0, lastErr
	}
	if winErr == nil {
		proto.Reset(c.reply)
		proto.Merge(c.reply, c.winReply)
	}
	out := &c.outs[winner-1]
	for _, o := range c.opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = out.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = out.trailer
		case grpc.PeerCallOption:
			*o.PeerAddr = out.peer
		}
	}
	if sink := c.cs.sink; sink != nil && v.Class != codes.Canceled {
		now := c.cs.clock.Now()
		sink.Observe(observe.Event{
			Kind: observe.HedgeWon, Time: now, Service: c.m.service, Method: c.m.name,
			Policy: observe.PolicyHedge, Attempt: winner, Code: v.Code, Class: v.Class, Duration: now.Sub(c.start),
		})
	}
	return winner, winErr
}
