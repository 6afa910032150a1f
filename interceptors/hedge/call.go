package hedge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	callend "github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// call is one hedged call (a unary call, or the reply phase of a client stream) while it runs.
//
// Attempt 1 runs on the caller's goroutine, into the caller's reply. The hedging timer, armed
// from the clock with AfterFunc, starts each further attempt in the timer's goroutine. Hedges
// write into fresh messages, and the winner's is merged into the caller's reply once every
// attempt has returned, so that no two goroutines ever write the caller's reply.
//
// Every goroutine the call starts, and every armed timer, holds one count of wg: the caller
// waits for all of them before it returns, which also makes the call safe to reuse from
// the pool afterwards.
type call struct {
	p     *Policy
	m     *methodInfo
	clk   clock.Clock
	sink  observe.Sink
	round *attempt.Round           // the retry loop's around the call, or nil (see package attempt)
	ctx   context.Context          // the caller's
	reply proto.Message            // the caller's: written only by attempt 1, until every attempt returned
	typ   protoreflect.MessageType // of reply, read before attempt 1 starts: hedges' replies
	// start is attempt 1's (the round's first, under a retry loop; a client stream's reply
	// phase, where its hedging and its latency samples begin): HedgeSent's Delay is from it.
	// callStart is the whole call's, HedgeWon's Duration is from it: the retry loop's
	// (attempt.Round.Start) under one, the stream's open for a client stream, else start.
	start     time.Time
	callStart time.Time
	delay     time.Duration
	limit     int

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
	sent     int                             // Guarded by mu: attempts sent, the first included; a hedge is numbered sent+1 as it starts (startLocked).
	pending  int                             // Guarded by mu: hedges the timer reserved that have neither started nor been left unstarted yet.
	inflight int                             // Guarded by mu: attempts sent or reserved, and neither finished nor left unstarted.
	closed   bool                            // Guarded by mu: no further hedge may start.
	winner   int                             // Guarded by mu: the attempt whose outcome is the call's, or 0.
	winErr   error                           // Guarded by mu
	winV     codes.Verdict                   // Guarded by mu
	winReply proto.Message                   // Guarded by mu: the winning hedge's reply.
	failN    int                             // Guarded by mu: the attempt whose retryable failure is the call's, if none wins.
	failErr  error                           // Guarded by mu
	failV    codes.Verdict                   // Guarded by mu
	rejN     int                             // Guarded by mu: the first hedge refused locally, the call's failure if nothing else is.
	rejErr   error                           // Guarded by mu
	rejV     codes.Verdict                   // Guarded by mu
	nextAt   time.Time                       // Guarded by mu: when the armed timer fires.
	holdTill time.Time                       // Guarded by mu: the end of the latest pushback delay; no hedge starts before it.
	heldFor  time.Time                       // Guarded by mu: the round's end a hedge was held back for, once (see holdForEndLocked).
	panicked bool                            // Guarded by mu: a hedge panicked with panicV.
	settled1 bool                            // Guarded by mu: attempt 1's outcome was taken (settle).
	panicV   any                             // Guarded by mu
	shared   bool                            // attempt 1's cancel is the retry attempt's context's (Unary)
	canceled bool                            // Guarded by mu: with shared, the call canceled that context itself, while it was live
	cancels  [maxAttempts]context.CancelFunc // Guarded by mu: each attempt's, by attempt-1.
	outs     [maxAttempts]attemptOut         // each hedge's own; written by it, read after wg.Wait
	gating   int                             // Guarded by mu: attempts waiting at a gate below (see GateWaiting).
	late     time.Duration                   // Guarded by mu: the longest run, past the delay, of an attempt its context's deadline ended (see report).
	left     [maxAttempts]time.Time          // Guarded by mu: when each attempt last left a gate it waited at, or zero.
	receipts [maxAttempts]int64              // Guarded by mu: each hedge's budget draw, by attempt-1, for Refund (see draw)
	watches  [maxAttempts]gatewatch.Watch    // each attempt's (a client stream's hedges'), the last of its call options (see GateWaiting)

	// Attempt 1's call options with a trailer option of the call's own, when the caller
	// gave none: the trailer's pushback is read. Reused from the pool.
	opts1    [8]grpc.CallOption // backs attempt 1's options when they fit
	first    []grpc.CallOption  // attempt 1's options (Unary)
	onFinish bool               // the caller's options hold a grpc.OnFinish, which the call calls once (Unary)
	trailer1 metadata.MD
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

// newCall returns a pooled call, set up but not begun, for a call with per-call settings pc
// and call options opts.
func (p *Policy) newCall(ctx context.Context, m *methodInfo, pc *attempt.PerCall, opts []grpc.CallOption, reply proto.Message) *call {
	c := callPool.Get().(*call)
	c.p, c.m, c.clk, c.sink, c.ctx, c.reply = p, m, p.s.Clock, pc.SinkOr(p.s.Sink), ctx, reply
	c.round = attempt.RoundOf(opts)
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

// firstOpts returns the call options of attempt 1 (a unary call): the caller's, with a
// trailer option of the call's own added when the caller gave none, so that the server's
// pushback is read (see firstTrailer), without grpc.OnFinish options, which the call
// calls once when it ends (see end) instead of grpc once per attempt, and with the attempt's
// gatewatch.Watch last, by which the gates below tell of its waits (see GateWaiting).
func (c *call) firstOpts(opts []grpc.CallOption) []grpc.CallOption {
	trailer := false
	for _, o := range opts {
		switch o.(type) {
		case grpc.TrailerCallOption:
			trailer = true
		case grpc.OnFinishCallOption:
			c.onFinish = true
		}
	}
	first := calloption.WithoutOnFinish(c.opts1[:0], opts)
	if !trailer {
		first = append(first, grpc.Trailer(&c.trailer1))
	}
	c.watches[0].Set(c, 1)
	return append(first, &c.watches[0])
}

// GateWaiting is told by the gates below (section.Gates) that attempt n enters a gate that may
// make it wait: a bulkhead's queue (max_wait), a rate limiter's wait for a token. While any
// attempt of the call waits so, no hedge is sent (see onTimer): the client is saturated, not
// the service slow, and a hedge would only queue behind it (or take a slot ahead of other
// calls' first attempts), paying the allowance and a retry-budget token to help nothing.
func (c *call) GateWaiting(int) {
	c.mu.Lock()
	c.gating++
	c.mu.Unlock()
}

// GateLeft is told by the gates below that attempt n has left the gate it waited at (see
// GateWaiting). The attempt's latency sample is measured from now on (see report): its time in
// the queue is not the service's. When no attempt of the call waits at a gate any more, the
// next hedge is due a delay from now, when it was due sooner (or the timer fired while an
// attempt waited and sent nothing): the hedging timer runs from when an attempt left the
// client, not from when it began to queue.
func (c *call) GateLeft(n int) {
	now := c.clk.Now()
	c.mu.Lock()
	c.gating--
	c.left[n-1] = now
	if c.gating == 0 && !c.closed && c.winner == 0 && c.sent+c.pending < c.limit {
		at := now.Add(c.delay)
		if at.Before(c.holdTill) {
			at = c.holdTill
		}
		if !c.armed || c.nextAt.Before(at) {
			c.disarmLocked()
			c.armLocked(now, at.Sub(now))
		}
	}
	c.mu.Unlock()
}

// firstTrailer returns attempt 1's trailer, once it has returned: what grpc wrote back
// through the caller's trailer option, or the call's own.
func (c *call) firstTrailer(opts []grpc.CallOption) metadata.MD {
	for _, o := range opts {
		if t, ok := o.(grpc.TrailerCallOption); ok {
			return *t.TrailerAddr
		}
	}
	return c.trailer1
}

// begin records attempt 1 (started now by the caller, canceled by cancel1) and arms the timer
// of the first hedge. opened, when not zero, is when the call began before attempt 1 (a client
// stream's open); a retry loop's start around the call (attempt.Round) comes first.
func (c *call) begin(cancel1 context.CancelFunc, opened time.Time) {
	c.start = c.clk.Now()
	c.callStart = c.start
	switch {
	case c.round != nil && !c.round.Start().IsZero():
		c.callStart = c.round.Start()
	case !opened.IsZero():
		c.callStart = opened
	}
	c.delay = c.p.delay(c.m)
	c.m.hedges.deposit()
	c.mu.Lock()
	c.cancels[0] = cancel1
	c.sent, c.inflight = 1, 1
	c.armLocked(c.start, c.delay)
	c.mu.Unlock()
}

// armLocked sets the timer to start the next hedge d after now.
func (c *call) armLocked(now time.Time, d time.Duration) {
	c.wg.Add(1)
	c.armed = true
	c.nextAt = now.Add(d)
	clk := c.clk
	if c.timer == nil || !clock.Same(c.timerClock, clk) {
		c.timer, c.timerClock = clk.AfterFunc(d, c.fire), clk
		return
	}
	c.timer.Reset(d)
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

// stopLocked ends hedging and leaves the attempts in flight be: no further hedge starts, and
// the timer is stopped.
func (c *call) stopLocked() {
	c.closed = true
	c.disarmLocked()
}

// closeLocked ends hedging: no further attempt starts, and every attempt but the winner is
// canceled.
func (c *call) closeLocked() {
	c.stopLocked()
	for i, cancel := range c.cancels[:c.sent] {
		if i+1 != c.winner && cancel != nil {
			if i == 0 && c.shared && c.ctx.Err() == nil {
				// The call ends a context the caller has not: attempt 1 is canceled because
				// the call was decided. One the caller canceled first stays the caller's.
				c.canceled = true
			}
			cancel()
		}
	}
}

// reserveLocked reserves the next hedge, counted among those in flight and towards MaxAttempts
// until it starts or is left unstarted, or reports false when none may start: the call is
// decided or closed, MaxAttempts were sent or reserved, or the caller is gone. The hedge takes
// its number, and pays for itself, only as it starts (startLocked): a hedge reserved and then
// held back leaves no number unused, whatever other hedge was reserved meanwhile.
func (c *call) reserveLocked() bool {
	if c.closed || c.winner != 0 || c.sent+c.pending >= c.limit || c.ctx.Err() != nil {
		return false
	}
	c.pending++
	c.inflight++
	return true
}

// startLocked returns the number of a hedge reserved by reserveLocked (its reservation already
// given up by the caller) that goes out now, the next after the attempts sent, and pays for it;
// or 0 when it does not go out. It does not when the call was closed since (decided, told to
// send no further hedge, or unwound by a panic) or the caller is gone, nor when the method's
// hedge allowance (MaxHedgeShare) or the retry budget refuses it, which closes the call to
// further hedges. A hedge that does not go out takes nothing from either; one paid for here
// whose HedgeSent then panics in the observer does not go out either, and gets its allowance
// back, and its retry-budget draw from a Refunder (see runHedge).
//
// The caller is gone too when less than retry.MinAttemptTime is left at now, the hedge's start,
// before its context's deadline (a per-attempt timeout's, the retry budget's end under a retry
// loop), or the deadline has passed though its context does not say so yet: the hedge's timer
// and the context's fire in goroutines of their own, and a hedge due at the deadline may run
// first. Such a hedge cannot finish, as no retry started then could (the retry loop starts
// none): it would only take the allowance, a retry-budget token and the server's work. A hedge
// refused so, or because the caller is gone, closes the call to further hedges, as the deadline
// only comes nearer: the timer is stopped, not left to wake up and refuse once a delay until
// the deadline, and the attempts in flight go on.
//
// The end of the round's per-attempt timeout that its context does not carry (attempt.Round.End:
// a client stream's, or one that cuts overtaken attempts only) is no deadline: the retry loop
// lifts it when it spares the attempt (the service slow for every caller, or a stall that no
// later attempt overtook) or a stream commits, and the attempt runs on to the call's end. A
// hedge due less than retry.MinAttemptTime before that end, or after it while it is still told,
// is held back instead (see holdForEndLocked): it takes nothing, and the timer looks again once
// the end has passed. By then the attempt was cut, its context canceled, and the call closes as
// for a gone caller, no hedge sent; or the end was lifted, and the hedge goes, subject to
// everything else here as usual. An end still told when the timer looks again closes the call,
// as a deadline does: one look again per end.
//
// A server's pushback delay taken since the timer reserved the hedge, that has not passed at
// now, holds it back as it holds an armed timer (see settle): the hedge does not start, and
// the timer is set for the delay's end, when the next hedge goes if attempts are still in
// flight then. It had no number yet: the next request sent takes the next one.
//
// paid is set while the hedge holds one of the allowance, for runHedge to give it back when
// what runs after (the budget, the observer on HedgeSent) panics: a panic before (the caller's
// context) has taken nothing.
func (c *call) startLocked(now time.Time, paid *bool) int {
	if c.closed {
		return 0
	}
	if c.ctx.Err() != nil {
		c.stopLocked()
		return 0
	}
	dl, hasDL := c.ctx.Deadline()
	if hasDL && dl.Sub(now) < retry.MinAttemptTime {
		c.stopLocked() // the deadline only comes nearer: no later hedge could go either
		return 0
	}
	if c.round != nil {
		// A per-attempt timeout its context does not carry (a client stream's, one that
		// cuts overtaken attempts only: see attempt.Round.SetEnd), which may yet be lifted.
		if end := c.round.End(); !end.IsZero() && end.Sub(now) < retry.MinAttemptTime {
			if !c.holdForEndLocked(now, end, dl, hasDL) {
				c.stopLocked()
			}
			return 0
		}
	}
	if now.Before(c.holdTill) {
		if c.sent+c.pending < c.limit {
			if c.armed && c.nextAt.Before(c.holdTill) {
				c.disarmLocked()
			}
			if !c.armed {
				c.armLocked(now, c.holdTill.Sub(now))
			}
		}
		return 0
	}
	// The method's hedge allowance first: a hedge it refuses costs the retry budget nothing.
	if !c.m.hedges.take() {
		c.stopLocked()
		return 0
	}
	*paid = true
	n := c.sent + 1
	if b := c.p.s.budget; b != nil && !c.draw(n, b) {
		*paid = false
		c.m.hedges.refund() // not sent: it takes nothing from the allowance
		c.stopLocked()
		return 0
	}
	c.sent = n
	return n
}

// endGrace is how long past the round's end (attempt.Round.End) a hedge held back for it looks
// again (see holdForEndLocked). The retry loop's timer that cuts or spares the attempt at the
// end fires in a goroutine of its own, as the hedging timer does: a look at the end itself
// could run before the loop's timer has done, and find the end neither lifted nor the attempt
// cut. retry.MinAttemptTime, the least time any attempt is started with: short beside a
// per-attempt timeout, so that the hedge of a spared attempt goes with little delay.
const endGrace = retry.MinAttemptTime

// holdForEndLocked holds back the hedge startLocked refused at now for the round's end (end,
// less than retry.MinAttemptTime away or passed already, see attempt.Round.End), and reports
// whether it did; when it did not, the caller closes the call to further hedges. The timer is
// set for endGrace past the end (past now, when the end has passed already), in place of the
// hedge after this one, which onTimer armed a delay on: the held hedge then goes if the end
// was lifted meanwhile, and not if the attempt was cut, and the next is due a delay after it.
// dl is the context's deadline, if hasDL.
//
// The rule is bounded, one look again per end (heldFor): a hedge refused again for the same
// end, still told (the loop's timer later than endGrace, or a stream's end that outlives a cut
// of the attempt, whose canceled context closes the call anyway), closes the call, instead of
// arming the timer again and again. Nor is a hedge held when the context's deadline leaves
// less than retry.MinAttemptTime after the look: no hedge could go then either, and the call
// closes at once, as for a deadline, with no timer left armed for nothing.
func (c *call) holdForEndLocked(now, end, dl time.Time, hasDL bool) bool {
	if c.heldFor.Equal(end) {
		return false // looked again once: the end was neither lifted nor the attempt cut
	}
	at := end
	if now.After(at) {
		at = now
	}
	at = at.Add(endGrace)
	if hasDL && dl.Sub(at) < retry.MinAttemptTime {
		return false
	}
	c.heldFor = end
	if c.sent+c.pending < c.limit && (!c.armed || !c.nextAt.Equal(at)) {
		c.disarmLocked()
		c.armLocked(now, at.Sub(now))
	}
	return true
}

// leaveLocked counts an attempt out of those in flight, once its outcome is taken (or, for a
// hedge, once it did not start). When it was the last and none won, every attempt sent has
// failed: the call fails with failErr, or the first local refusal when nothing else failed.
func (c *call) leaveLocked() {
	c.inflight--
	if c.inflight == 0 && c.winner == 0 {
		c.stopLocked()
		if c.failN == 0 {
			c.failN, c.failErr, c.failV = c.rejN, c.rejErr, c.rejV
		}
	}
}

// onTimer is the timer's callback: the hedging delay passed with no answer.
//
// reserveLocked reads the caller's context, the caller's code, on the timer's goroutine and
// under the lock: a panic of its Err (or a runtime.Goexit) is recovered here, and ends the call
// as a hedge's panic does (see runHedge), with the lock given up and the timer's count of wg
// with it. The firing reserved nothing: no hedge is sent or paid for.
func (c *call) onTimer() {
	reserving := true
	defer func() {
		if reserving {
			c.raiseLocked(recover())
			c.mu.Unlock()
			c.wg.Done()
		}
	}()
	c.mu.Lock()
	if c.stale > 0 {
		c.stale--
		reserving = false
		c.mu.Unlock()
		c.wg.Done()
		return
	}
	c.armed = false
	if c.gating > 0 {
		// An attempt waits at a gate below: no hedge is sent, and none is paid for. The
		// timer is armed again when the last such attempt leaves its gate (GateLeft).
		reserving = false
		c.mu.Unlock()
		c.wg.Done()
		return
	}
	ok := c.reserveLocked()
	reserving = false
	if !ok {
		c.mu.Unlock()
		c.wg.Done()
		return
	}
	if c.sent+c.pending < c.limit {
		c.armLocked(c.clk.Now(), c.delay)
	}
	c.mu.Unlock()
	c.runHedge() // the timer's count of wg passes to the attempt
}

// runHedge starts the hedge the timer reserved, numbered as it starts (n ≥ 2: see startLocked),
// runs it into a fresh reply and reports its outcome. A hedge that may no longer start (see
// startLocked) never goes out: it spends nothing and sends no event. A panic of the attempt is
// recovered here, ends the call as a fatal outcome would, and is raised again on the caller's
// goroutine by wait: a hedge's panic reaches the caller as attempt 1's does, instead of killing
// the process from a timer goroutine. So does a panic of what runs on this goroutine for the
// hedge: the observer, on its HedgeSent or its AttemptFinished, the classifier, the stream's
// Trailer. A panic after the outcome was taken (the observer's, on AttemptFinished) leaves the
// accounting as it is: the attempt has left those in flight, and its AttemptFinished is not
// sent again. A panic of the observer on HedgeSent comes before the hedge goes out, which it
// then never does: what it took from the method's allowance is given back, and what it drew
// from a Refunder budget, and the hedge, which the sinks told before the panic counted, is
// reported by its AttemptFinished, rejected (see untold). What the allowance paid is given back
// too when the Budget's Withdraw panics: no sink was told of that hedge.
func (c *call) runHedge() {
	defer c.wg.Done()
	returned, paid, told, sent, settled, locked, reserved := false, false, false, false, false, false, true
	n := 0
	var t0 time.Time
	defer func() {
		if !returned {
			if locked {
				// The caller's context (its Err, its Deadline) or the budget's Withdraw
				// panicked, under the lock: abort gives back what the allowance paid, if it
				// did, as for a hedge that was not sent.
				c.mu.Unlock()
			}
			c.abort(recover(), paid && !sent, settled, reserved)
			if told && !sent {
				c.untold(n, t0)
			}
		}
	}()
	t0 = c.clk.Now()
	// Deriving the hedge's context reads the caller's Err when the caller's context has
	// ended since the timer read it: a panic of it is recovered above, as one under the lock.
	actx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	// Ended with its round, the hedge is a loser to the policies below, not a failure: the
	// round's first attempt carries the round's timeout (callend.Hedge).
	actx = callend.Hedge(actx)
	c.mu.Lock()
	locked = true
	c.pending--
	reserved = false
	n = c.startLocked(t0, &paid)
	if n > 0 {
		c.cancels[n-1] = cancel // from now on, a decision of the call cancels the hedge
	} else {
		c.leaveLocked()
	}
	locked = false
	c.mu.Unlock()
	if n == 0 {
		returned = true
		return
	}
	// The attempts of the call sent before this one: the retry loop's before the round, and
	// the round's. Under a retry (prev > 0) its own value is replaced.
	prev := n - 1
	if c.round != nil {
		prev += c.round.Prev()
	}
	actx = attempt.Outgoing(actx, prev, 0, prev > n-1)
	told = true // from here on, a sink may have counted the hedge (see untold)
	c.hedgeSent(n, t0, observe.ReasonHedgeDelay)
	sent = true
	reply := c.typ.New().Interface()
	err := c.attempt(actx, n, reply)
	trailer := c.outs[n-1].trailer
	if st := c.outs[n-1].stream; st != nil {
		trailer = st.Trailer()
	}
	o := c.settle(n, err, reply, trailer)
	settled = true
	if o.v.Class == codes.Rejected {
		// Refused on this side of the wire: the budget's Withdraw paid for nothing sent.
		if r, ok := c.p.s.budget.(Refunder); ok {
			r.Refund(c.receipts[n-1])
		}
	}
	c.report(n, t0, o)
	returned = true
}

// untold ends hedge n, started at t0, whose HedgeSent the observer panicked on, once abort has
// ended the call: the hedge never goes out, but the sinks told of it before the panic (those
// before the panicking one in an observe.Multi, or the panicking one itself) counted it, and
// each hedge counted is reported by one AttemptFinished. It is reported as a hedge refused on
// this side of the wire is, class rejected, with the Reason it was sent for, so that what
// counts the hedges refused (promobs' bulwark_hedges_refused_total) counts it too: the service
// never got it, unlike the call's other attempts the panic canceled. Its Code is Internal (a
// fault of this process, as calloption.ErrPanicked, which a grpc.OnFinish of the call gets),
// at t0 (it took no time on the wire). What the retry budget's Draw took for it is given back
// to a Refunder, as for a hedge refused below: nothing was sent. A second panic of the
// observer, on that AttemptFinished, is dropped: the caller gets the first.
func (c *call) untold(n int, t0 time.Time) {
	if r, ok := c.p.s.budget.(Refunder); ok {
		r.Refund(c.receipts[n-1])
	}
	if c.sink == nil {
		return
	}
	number, send := n, true
	if c.round != nil {
		number, send = c.round.Report(n)
	}
	if !send {
		return
	}
	defer func() { _ = recover() }()
	v := codes.Verdict{Class: codes.Rejected, Code: grpccodes.Internal}
	attempt.Finished(c.sink, observe.PolicyHedge, &c.m.Method, number, t0, t0, v, observe.ReasonHedgeDelay)
}

// draw takes hedge n's cost from b, keeping the receipt of a Refunder's draw for a refund
// should a policy below refuse the hedge (see runHedge). The lock is held.
func (c *call) draw(n int, b Budget) bool {
	r, ok := b.(Refunder)
	if !ok {
		return b.Withdraw()
	}
	drawn, receipt := r.Draw()
	c.receipts[n-1] = receipt
	return drawn
}

// abort ends the call after a hedge panicked with v (nil for runtime.Goexit): no further
// attempt starts, every other one is canceled, and wait raises v on the caller's goroutine.
// refund tells that the hedge took one from the method's allowance but did not go out (its
// HedgeSent, or what startLocked calls after the allowance paid, panicked): it is given back.
// settled tells that the hedge's outcome was taken (settle) before the panic: the hedge has
// already left those in flight. reserved tells that the panic came before the hedge gave up its
// reservation to start (deriving its context from the caller's): it is given up here.
func (c *call) abort(v any, refund, settled, reserved bool) {
	if refund {
		c.m.hedges.refund()
	}
	c.mu.Lock()
	if !settled {
		c.inflight--
	}
	if reserved {
		c.pending--
	}
	c.raiseLocked(v)
	c.mu.Unlock()
}

// raiseLocked ends the call after what ran for it off the caller's goroutine (a hedge, the
// timer) panicked with v (nil for runtime.Goexit): no further attempt starts, every other one
// is canceled, and wait raises the first such v on the caller's goroutine.
func (c *call) raiseLocked(v any) {
	if v == nil {
		v = errGoexit
	}
	if !c.panicked {
		c.panicked, c.panicV = true, v
	}
	c.closeLocked()
}

// errGoexit is what wait raises when what ran for a hedge off the caller's goroutine (its
// invoker, the caller's context) called runtime.Goexit.
var errGoexit = errors.New("hedge: a hedged attempt's invoker or the caller's context called runtime.Goexit")

// unwind is the end of the call when attempt 1 panicked, or what runs for it on the caller's
// goroutine once it returned (the classifier, the observer on its AttemptFinished or on the
// call's HedgeWon): on its way up to the caller, the panic (left as it is, with its stack)
// first stops hedging, cancels the hedges and waits for them, so that nothing the call started
// outlives it. A hedge's own panic is then dropped.
func (c *call) unwind() {
	c.mu.Lock()
	if !c.settled1 {
		c.inflight--
	}
	c.closeLocked()
	c.mu.Unlock()
	c.wg.Wait()
}

// attempt runs hedge n.
func (c *call) attempt(ctx context.Context, n int, reply proto.Message) error {
	out := &c.outs[n-1]
	opts := make([]grpc.CallOption, 0, len(c.opts)+2)
	trailer := false
	for _, o := range c.opts {
		// Call options that write back to the caller are given the hedge's own targets: the
		// winner's are copied to the caller's at the end. A unary call's grpc.OnFinish is
		// the call's to call, once.
		switch o.(type) {
		case grpc.HeaderCallOption:
			o = grpc.Header(&out.header)
		case grpc.TrailerCallOption:
			o, trailer = grpc.Trailer(&out.trailer), true
		case grpc.PeerCallOption:
			o = grpc.Peer(&out.peer)
		case grpc.OnFinishCallOption:
			if c.onFinish {
				continue
			}
		}
		opts = append(opts, o)
	}
	if !trailer && c.st == nil {
		// The trailer is read for the server's pushback in any case.
		opts = append(opts, grpc.Trailer(&out.trailer))
	}
	// The hedge's Watch goes last, by which the gates below tell of its waits (see
	// GateWaiting): a unary hedge's, or a client stream's hedge as it opens its stream
	// (attempt 1's stream was opened before the reply phase, and its hedging, began).
	c.watches[n-1].Set(c, n)
	opts = append(opts, &c.watches[n-1])
	if c.st != nil {
		return c.st.replay(ctx, n, reply, out, opts)
	}
	return c.invoker(ctx, c.method, c.req, reply, c.cc, opts...)
}

// finish takes the outcome of attempt n, started at t0, and reports it: settle, then report.
func (c *call) finish(n int, t0 time.Time, err error, reply proto.Message, trailer metadata.MD) {
	c.report(n, t0, c.settle(n, err, reply, trailer))
}

// outcome is what settle took of an attempt's end, for report.
type outcome struct {
	now        time.Time
	left       time.Time // when the attempt last left a gate it waited at (GateLeft), or zero
	v          codes.Verdict
	err        error // the attempt's error, as it returned
	lost       bool  // the call was decided before
	deadline   bool  // the call was not decided, and the attempt's context (the caller's) has passed its deadline
	callerLive bool  // the caller's context had not ended, or the call canceled attempt 1's
}

// settle takes the outcome of attempt n with the trailer it got: the first success or fatal
// outcome wins and cancels the others. A retryable failure does not start a hedge early: the
// attempts still in flight go on, and when none is left the call fails with the failure that
// binds the retry loop around the hedge most (see failBeats), for that loop to handle with its
// backoff, its pushback rules and its budget. Failures are the retry policy's business;
// hedging is for answers that are slow to come.
//
// The server's pushback on a retryable failure governs the hedges still to come (gRFC A6): a
// request to stop sends no further hedge, and a delay holds the next one back until it has
// passed.
//
// Whatever settle takes (the attempt leaving those in flight, the allowance refunded) is taken
// once: it calls nothing but the classifier and the caller's context's Err, before it takes
// anything, and neither under the lock.
func (c *call) settle(n int, err error, reply proto.Message, trailer metadata.MD) outcome {
	now := c.clk.Now()
	// Read before the lock: the caller's context is the caller's code, and a panic of its Err
	// must not unwind with the lock held (see Panics).
	cerr := c.ctx.Err()
	callerGone := cerr != nil
	if err != nil && errors.Is(cerr, context.Canceled) && callend.Cut(c.ctx) {
		// A retry loop's per-attempt timeout cut the round (retry.CutOvertaken): its
		// attempts end in the timeout's DeadlineExceeded, as under a deadline of its context.
		err = callend.ErrCut
	}
	v := c.p.s.Classifier.ClassifyTrailer(err, trailer)
	c.mu.Lock()
	lost := c.winner != 0
	callerLive := !callerGone || c.canceled
	switch {
	case lost:
	case v.Class == codes.Rejected && n > 1:
		// A hedge refused on this side of the wire (a full bulkhead, the throttle, an open
		// breaker below): it never reached the service, and it does not decide the call, whose
		// attempts in flight go on. Later hedges would be refused alike: none is sent. It is
		// the call's outcome only if nothing else is (see below).
		if c.rejN == 0 {
			c.rejN, c.rejErr, c.rejV = n, err, v
		}
		c.m.hedges.refund()
		c.stopLocked()
	case !v.Class.Retryable():
		c.winner, c.winErr, c.winV = n, err, v
		if n > 1 {
			// A hedge that decides the call won it, with any fatal outcome (a server
			// fault, a Canceled of the server's): only a hedge that does not win (beaten
			// by any other attempt, earlier or later, or failed retryably) stays charged
			// to the allowance. A Canceled that comes once the caller's context has ended
			// is the caller's, who gave up: that hedge cut nothing short, and stays
			// charged too.
			c.winReply = reply
			if v.Class != codes.Canceled || !callerGone {
				c.m.hedges.refund()
			}
		}
		c.closeLocked()
	default:
		if c.failN == 0 || failBeats(v, c.failV) {
			c.failN, c.failErr, c.failV = n, err, v
		}
		switch {
		case v.Pushback.Stop:
			c.stopLocked()
		case v.Pushback.Set:
			end := now.Add(v.Pushback.Delay)
			if end.After(c.holdTill) {
				c.holdTill = end // for a hedge reserved but not started yet (startLocked)
			}
			if c.armed && end.After(c.nextAt) {
				c.disarmLocked()
				c.armLocked(now, v.Pushback.Delay)
			}
		}
	}
	c.leaveLocked()
	if n == 1 {
		c.settled1 = true
	}
	left := c.left[n-1]
	c.mu.Unlock()
	deadline := !lost && cerr == context.DeadlineExceeded //nolint:errorlint // a context's own error, never wrapped
	return outcome{now: now, left: left, v: v, err: err, lost: lost, deadline: deadline, callerLive: callerLive}
}

// report records the latency sample of attempt n, started at t0, whose outcome settle took,
// and sends its AttemptFinished. The sample of a unary attempt that waited at a gate below (a
// bulkhead's queue) is from when it left the gate (GateLeft): the queue is the client's, not
// the service's latency. The sample of a client stream's attempt is the server's time to
// answer, which begins later than the attempt (see stream.sampleFrom).
func (c *call) report(n int, t0 time.Time, o outcome) {
	now, v := o.now, o.v
	if est := c.m.est; est != nil {
		from, sampled := t0, true
		if !o.left.IsZero() {
			from = o.left
		}
		if c.st != nil {
			from, sampled = c.st.sampleFrom(n, c.start)
		}
		d := now.Sub(from)
		switch {
		case !sampled:
		case v.Class == codes.Success:
			// Only a success is the time the service takes to do what the method does. A
			// business error may come in a millisecond (validation, authentication): with
			// half the calls such, the median rule would take the delay down to MinDelay and
			// hedge every call that succeeds, each hedge a loser.
			est.record(d)
		case o.lost && d >= c.delay && o.callerLive:
			// A loser canceled after the delay: its latency is longer than d, which is
			// already past the delay. Counting d keeps the slow tail in the window; leaving
			// it out would drag the percentile down with every hedge that wins.
			est.record(d)
		case o.deadline && d >= c.delay && c.round != nil && v.Class != codes.Success:
			// Ended by its context's deadline after the delay: a lower bound too, should
			// that deadline be the retry loop's per-attempt timeout, which the loop tells
			// once the round has returned (attempt.Round.TimedOut: see wait); not the
			// call's deadline, which ends the call. One sample a round, the longest run.
			c.mu.Lock()
			c.late = max(c.late, d)
			c.mu.Unlock()
		}
	}
	// Every attempt is reported here, the first included, numbered over the call: under a
	// retry loop, after its earlier rounds, which then reports none of this round's (see
	// package attempt). So each request sent is counted exactly once.
	number, send := n, true
	if c.round != nil {
		number, send = c.round.Report(n)
	}
	if c.sink != nil && send {
		reason := ""
		if n > 1 {
			reason = observe.ReasonHedgeDelay // a hedge: sent because the delay passed
		}
		attempt.Finished(c.sink, observe.PolicyHedge, &c.m.Method, number, t0, now, v, reason)
	}
	if n > 1 && v.Class == codes.Rejected {
		c.refused(number, now, o.err, v)
	}
}

// refused sends the Rejected event of hedge number, refused on this side of the wire by a
// policy below the hedge (a full bulkhead, the throttle, an open breaker) with err at now, to
// the call's sink (observe.WithCallSink), and to it alone. The refusing policy sent its own
// Rejected to its sink, without the call or the attempt it refused, which it cannot know; a
// tracer that records the call on its trace has no other way to say why the hedge went
// nowhere, while the call goes on without it. The event carries what the rejection says (the
// policy, its reason, when to come back), and the hedge's number; never the request's content.
func (c *call) refused(number int, now time.Time, err error, v codes.Verdict) {
	cs := observe.CallSinkFrom(c.ctx)
	if cs == nil {
		return
	}
	e := observe.Event{
		Kind: observe.Rejected, Time: now, Service: c.m.Service, Method: c.m.Name,
		Attempt: number, Code: v.Code, Class: codes.Rejected, Reason: v.Reason,
	}
	if v.Pushback.Set {
		e.Delay = v.Pushback.Delay
	}
	var r *codes.Rejection
	if errors.As(err, &r) && r != nil {
		e.Policy, e.Reason, e.Delay = r.Policy, r.Reason, r.RetryAfter
		if r.Service != "" {
			e.Service = r.Service
		}
	}
	cs.Observe(e)
}

// failBeats reports whether the retryable failure v, coming after old, should be the call's
// when no attempt wins: the one that binds the retry loop most, so that what the server said
// reaches it (a request to stop, then the longer pushback delay; of equal ones, the first),
// else the latest.
func failBeats(v, old codes.Verdict) bool {
	switch {
	case old.Pushback.Stop:
		return false
	case v.Pushback.Stop:
		return true
	case old.Pushback.Set:
		return v.Pushback.Set && v.Pushback.Delay > old.Pushback.Delay
	}
	return true
}

// number is attempt n's number over the call (see package attempt).
func (c *call) number(n int) int {
	if c.round != nil {
		return c.round.Prev() + n
	}
	return n
}

// hedgeSent sends the HedgeSent event of hedge n, which went out at now. Its Delay is from
// attempt 1's start, the round's under a retry loop: the hedging delays (and pushback) the
// call waited before the hedge, not the retries' sleeps before the round.
func (c *call) hedgeSent(n int, now time.Time, reason string) {
	if sink := c.sink; sink != nil {
		sink.Observe(observe.Event{
			Kind: observe.HedgeSent, Time: now, Service: c.m.Service, Method: c.m.Name,
			Policy: observe.PolicyHedge, Attempt: c.number(n), Delay: now.Sub(c.start), Reason: reason,
		})
	}
}

// wait is the caller's side once attempt 1 has returned with err1 and been finished: it waits
// for every other attempt, then returns the attempt whose outcome is the call's (the winner,
// or when every attempt failed the one whose failure the call returns) and the call's error.
// A winning hedge's reply is merged into the caller's; the header, trailer and peer call
// options get the deciding attempt's, so that a retry loop around the hedge reads the
// pushback of the failure it is given. When a hedge panicked, the caller must raise its
// panic (raised) after wait. The call's HedgeWon is the caller's to send (hedgeWon), once it
// has taken the winner on.
func (c *call) wait(err1 error) (int, error) {
	c.wg.Wait()
	c.mu.Lock()
	winner, winErr := c.winner, c.winErr
	failN, failErr := c.failN, c.failErr
	panicked, lateD := c.panicked, c.late
	c.mu.Unlock()
	if c.round != nil && !panicked {
		// The retry loop around names the request whose outcome it handles by it (see
		// attempt.Round.Decide): the winner's, or after a failed round failN's.
		decider := winner
		if decider == 0 {
			decider = failN
		}
		c.round.Decide(decider)
		var late attempt.Sampler
		if lateD > 0 && c.m.est != nil {
			late = c.m.est
		}
		c.round.Offer(late, lateD) // nil clears an earlier round's
	}
	switch {
	case panicked:
		return 0, nil // the caller raises the panic (see raised)
	case winner == 1:
		return 1, err1
	case winner == 0:
		if failN > 1 {
			c.copyOut(failN)
		}
		return failN, failErr
	}
	// Attempt 1, canceled, may still have written the caller's reply (its answer was on the
	// wire): the caller gets the winner's reply, or an empty one with the winner's error.
	proto.Reset(c.reply)
	if winErr == nil {
		proto.Merge(c.reply, c.winReply)
	}
	c.copyOut(winner)
	return winner, winErr
}

// hedgeWon sends the call's HedgeWon when wait returned n, a hedge that decided the call (not
// by the caller's cancellation). The caller sends it once it has taken the winner on (the
// winner's reply merged into its own, a client stream's winner made the stream it sees): a
// panic of the observer on it goes on to the caller with the call decided as the event says.
func (c *call) hedgeWon(n int) {
	sink := c.sink
	if n < 2 || sink == nil {
		return
	}
	c.mu.Lock()
	winner, v := c.winner, c.winV
	c.mu.Unlock()
	if winner != n || v.Class == codes.Canceled {
		return
	}
	now := c.clk.Now()
	sink.Observe(observe.Event{
		Kind: observe.HedgeWon, Time: now, Service: c.m.Service, Method: c.m.Name,
		Policy: observe.PolicyHedge, Attempt: c.number(winner), Code: v.Code, Class: v.Class, Duration: now.Sub(c.callStart),
	})
}

// raised returns the value a hedge panicked with, and whether one did. The caller raises it
// after wait and its own cleanup, so that the panic reaches it as attempt 1's would.
func (c *call) raised() (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.panicV, c.panicked
}

// copyOut gives the caller's header, trailer and peer call options hedge n's.
func (c *call) copyOut(n int) {
	out := &c.outs[n-1]
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
}
