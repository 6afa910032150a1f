package section

import (
	"context"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	"google.golang.org/grpc"
)

// MaxGates is how many gates a Gates holds (the built-in gates are four).
const MaxGates = 4

// Gates is a run of gates (Gate), at most MaxGates, run in one frame: Invoke enters them in
// order, continues the call once unless one refuses, and exits the gates it entered in
// reverse order. A suite's runner runs each run of gates of a chain with one; an attempt loop
// whose attempts pass gates alone before grpc runs them itself with one (see
// retry.Policy.InvokeGated). A Gates never changes once a call runs it (see Decide).
type Gates struct {
	n    int
	last int // the last gate that reads the clock, -1: none (the gates after it need not say they are instant)
	// waits has bit i set when gate i may wait and is entered with the call's ClientConn
	// (see NewGates): read beside n, so that a run of gates that never wait reads no more.
	waits uint8
	gate  [MaxGates]Gate
	at    [MaxGates]Clocked  // gate[i] when it reads the clock, else nil
	inst  [MaxGates]Instant  // gate[i] when it can tell that it does not wait, else nil
	conn  [MaxGates]connGate // gate i's ConnGate when its bit of waits is set, else zero
}

// connGate is a gate that may wait, entered with the call's ClientConn (see Gates.enterConn):
// the gate as a ConnGate, and as a ClockedConn when it reads the clock too.
type connGate struct {
	g  ConnGate
	at ClockedConn
}

// NewGates returns the run of gates gs; false when there are more than MaxGates. It decides
// here which gates a call enters with its ClientConn (see Decide), from what they answer now.
func NewGates(gs ...Gate) (*Gates, bool) {
	if len(gs) > MaxGates {
		return nil, false
	}
	g := &Gates{n: len(gs), last: -1}
	for i, x := range gs {
		g.gate[i] = x
		g.at[i], _ = x.(Clocked)
		g.inst[i], _ = x.(Instant)
		if g.at[i] != nil {
			g.last = i
		}
	}
	g.Decide()
	return g, true
}

// Decide decides, from what the gates answer now, which gates a call enters with its
// ClientConn (ConnGate.EnterConn): a ConnGate that may wait, one whose Instant(nil) is false
// or that is not Instant. The others are entered with Enter (EnterAt), as any gate, so that a
// call through gates that never wait does no more for the ClientConn. NewGates decides once;
// the maker of g decides again, before any call runs g, when a gate's wait may have been
// turned on or off since (a reload that gives a kept bulkhead another max_wait as it commits,
// section.Spec.Retune, after it made the chains' Gates). Decide must not run while a call
// runs g. A ConnGate that a call's own option makes wait (a WithMaxWait among its call
// options) on a Gates that decided it does not returns ErrNeedsConn from Enter instead of
// waiting, and Invoke enters it again with EnterConn: its wait too ends when the ClientConn
// shuts down, while a call without such an option does nothing more.
func (g *Gates) Decide() {
	g.waits = 0
	for i := range g.n {
		g.conn[i] = connGate{}
		if c, ok := g.gate[i].(ConnGate); ok && (g.inst[i] == nil || !g.inst[i].Instant(nil)) {
			g.waits |= 1 << i
			g.conn[i].g = c
			g.conn[i].at, _ = g.gate[i].(ClockedConn)
		}
	}
}

// Waits reports whether a call enters gate i with its ClientConn (see Decide).
func (g *Gates) Waits(i int) bool { return i >= 0 && i < g.n && g.waits&(1<<i) != 0 }

// Invoke enters the gates in order, calls next unless one refuses, and exits the gates it
// entered in reverse order; a call whose context has ended goes to next past every gate (see
// InvokeGate) with the outcome (a refusal's error for the gates before it), or
// as panicked when next panics; the panic goes on. A gate whose Enter or Exit panics is not
// exited (again), and the gates before it exit as panicked, as with nested InvokeGates.
// A refused call runs the grpc.OnFinish callbacks among opts with the refusal, as grpc would
// have once the call ended (see refused); one that a gate's Enter panics on runs them with
// calloption.ErrPanicked (see panicked), and the panic goes on.
// A gate that may wait (one entered with cc, see Decide) tells the attempt's watcher, when the
// last of opts is a gatewatch.Watch (a hedging policy's), that the attempt waits there and when
// it has left (or the gate panicked, as the panic goes on): the time between is queue time on
// this side of the wire.
// start, when not nil, is a reading of the clock taken with nothing since that could have
// waited (an attempt loop's call start, for its first attempt): a gate that reads the clock
// (Clocked) takes it as its now, as long as the gates before it admitted at once (Instant).
// (A pointer: a word in the frames of Invoke's callers, which lie under the call, where a
// time.Time takes three.)
func (g *Gates) Invoke(ctx context.Context, start *time.Time, method string, req, reply any, cc *grpc.ClientConn, next grpc.UnaryInvoker, opts []grpc.CallOption) error {
	if ctx.Err() != nil {
		return next(ctx, method, req, reply, cc, opts...)
	}
	var passes [MaxGates]Pass
	entered := 0
	ended := false // the call went on to next, or was refused: what ends it runs its OnFinish.
	defer func() {
		if entered > 0 || !ended { // next, a gate's Enter or a later gate's Exit panicked.
			g.panicked(ctx, method, opts, &passes, entered, !ended)
		}
	}()
	var err error
	for entered < g.n {
		var p Pass
		if g.waits&(1<<entered) == 0 {
			p, start, err = g.enter(entered, start, ctx, method, opts)
		} else {
			p, start, err = g.enterConn(entered, start, ctx, cc, method, opts)
		}
		if err != nil {
			if err != ErrNeedsConn { //nolint:errorlint // the sentinel itself, never wrapped (see ConnGate)
				break
			}
			// Gate entered without cc, whose wait the call's own option turned on: entered
			// again with cc, so that the wait ends when cc shuts down; start is nil by now.
			if p, err = enterWatched(g.gate[entered], ctx, method, cc, opts); err != nil {
				break
			}
		}
		passes[entered] = p
		entered++
	}
	ended = true
	if err == nil {
		err = next(ctx, method, req, reply, cc, opts...)
	} else {
		refused(opts, err)
	}
	// A gate is no longer counted as entered once its Exit begins: should that Exit panic (an
	// event it sends reaches a sink that panics), the deferred unwind exits the gates before
	// it as panicked, as nested InvokeGates would, and none twice.
	for entered > 0 {
		entered--
		g.gate[entered].Exit(ctx, method, opts, passes[entered], err, false)
	}
	return err
}

// refused runs the grpc.OnFinish callbacks among opts with err, the refusal of a call that a
// gate kept from next, and so from grpc, which would have run them once it ended: whoever
// passes them on (a caller, a policy that does not run them itself) expects them run once.
// An attempt loop or a hedging policy that runs them itself once for the call passes its
// attempts none. As grpc runs them in next, before the gates exit: should one panic, the
// gates entered exit as panicked. Not inlined: its frame is not Invoke's.
//
//go:noinline
func refused(opts []grpc.CallOption, err error) {
	calloption.OnFinish(opts, err)
}

// panicked ends a call that a panic passes with n gates entered: when a gate's Enter panicked
// (unended: an observer that panicked on the Rejected of a refusal, or on an event of an
// admission), the call never reached next, and grpc, which would have run the grpc.OnFinish
// callbacks among opts, never sees it: they run here, once, with calloption.ErrPanicked, as
// refused runs them, before the gates entered exit as panicked (see unwind), which they do
// should a callback panic too.
func (g *Gates) panicked(ctx context.Context, method string, opts []grpc.CallOption, passes *[MaxGates]Pass, n int, unended bool) {
	defer g.unwind(ctx, method, opts, passes, n)
	if unended {
		calloption.Panicked(opts)
	}
}

// unwind exits the first n gates, which a panic passes, as panicked, in reverse order. Each
// gate's Exit runs with the next one's deferred, so that one that panics too does not keep
// the gates before it from exiting, as with nested InvokeGates.
func (g *Gates) unwind(ctx context.Context, method string, opts []grpc.CallOption, passes *[MaxGates]Pass, n int) {
	if n == 0 {
		return
	}
	defer g.unwind(ctx, method, opts, passes, n-1)
	g.gate[n-1].Exit(ctx, method, opts, passes[n-1], nil, true)
}

// enter enters gate i, at *start when start is not nil, and returns the start the gates after
// it may still take: start when the gate admitted at once, else nil. Not inlined: its frame,
// larger than Enter's for the time it passes, is not on the stack under the call.
//
//go:noinline
func (g *Gates) enter(i int, start *time.Time, ctx context.Context, method string, opts []grpc.CallOption) (Pass, *time.Time, error) {
	if start == nil || i > g.last {
		p, err := g.gate[i].Enter(ctx, method, opts)
		return p, nil, err
	}
	var (
		p   Pass
		err error
	)
	if g.at[i] != nil {
		p, err = g.at[i].EnterAt(ctx, method, opts, *start)
	} else {
		p, err = g.gate[i].Enter(ctx, method, opts)
	}
	if err != nil || i == g.last || g.inst[i] == nil || !g.inst[i].Instant(opts) {
		start = nil
	}
	return p, start, err
}

// enterConn is enter for gate i when it may wait (its bit of waits is set): the gate's
// EnterConn, or EnterConnAt at *start, given cc, the call's ClientConn, so that a wait in it
// ends when cc shuts down. The attempt's watcher, if any, is told of the wait (see Invoke). Not
// inlined, apart from enter, so that a run of gates that never wait passes no ClientConn and
// reads nothing of conn.
//
//go:noinline
func (g *Gates) enterConn(i int, start *time.Time, ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (Pass, *time.Time, error) {
	c := &g.conn[i]
	w := gatewatch.Of(opts)
	w.Waiting()
	defer w.Left() // on the panic's way up too (see gatewatch.Watcher)
	if start == nil || i > g.last {
		p, err := c.g.EnterConn(ctx, cc, method, opts)
		return p, nil, err
	}
	var (
		p   Pass
		err error
	)
	if c.at != nil {
		p, err = c.at.EnterConnAt(ctx, cc, method, opts, *start)
	} else {
		p, err = c.g.EnterConn(ctx, cc, method, opts)
	}
	if err != nil || i == g.last || g.inst[i] == nil || !g.inst[i].Instant(opts) {
		start = nil
	}
	return p, start, err
}

// enterWatched is enterConn (the package's) for a gate whose wait the call's own option turned
// on, telling the attempt's watcher of the wait (see Invoke). Not inlined: its frame is not on
// the stack of a call that does not wait.
//
//go:noinline
func enterWatched(g Gate, ctx context.Context, method string, cc *grpc.ClientConn, opts []grpc.CallOption) (Pass, error) {
	w := gatewatch.Of(opts)
	w.Waiting()
	defer w.Left()
	return enterConn(g, ctx, method, cc, opts)
}

// watchedStream returns stream, the stream interceptor of g, a gate that may wait (a
// ConnGate), telling the attempt's watcher of the wait, as a run of gates does for a unary
// attempt (see Gates.Invoke): when the last of a stream's call options is a gatewatch.Watch (a
// hedging policy's hedge of a client stream) and g may make it wait (it is not Instant for
// them), the watcher is told that the attempt waits as the interceptor begins, and that it has
// left once the interceptor opens the rest of the chain (g admitted it) or returns without
// doing so (g refused it, or its context ended). A stream without a Watch, or one g lets
// through at once, is passed to stream as it is: it pays for one look at its last option.
func watchedStream(g ConnGate, stream grpc.StreamClientInterceptor) grpc.StreamClientInterceptor {
	inst, _ := g.(Instant)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		w := gatewatch.Of(opts)
		if w == nil || (inst != nil && inst.Instant(opts)) {
			return stream(ctx, desc, cc, method, streamer, opts...)
		}
		return streamWatched(w, stream, ctx, desc, cc, method, streamer, opts)
	}
}

// StreamWatcher is a ConnGate whose own stream interceptor tells a hedged stream's watcher of
// the wait in it (with AdmitStream), so that a hedging policy above it as a plain interceptor,
// outside a suite, follows the stream's wait as one above it in a suite does: Step and Judged
// pass such a gate's stream interceptor on as it is, where they make another's tell the
// watcher (watchedStream), which would tell it twice. The bulkhead and the rate limiter are
// StreamWatchers.
type StreamWatcher interface {
	ConnGate
	// WatchesStreams does nothing: it marks the gate.
	WatchesStreams()
}

// AdmitStream runs admit, g's admission of a stream opened with opts (the wait for a slot or a
// token), as calloption.Admit does: a refusal, admit's error, runs the grpc.OnFinish callbacks
// among opts with it, and should admit panic they run with calloption.ErrPanicked. When the
// last of opts is a gatewatch.Watch (a hedging policy's hedge of a client stream, above g) and
// g may make the stream wait (it is not Instant for opts), the watcher is told that the stream
// waits before admit runs, and that it has left once admit returns (admitted, refused, or its
// context or ClientConn ended) or panics, before the callbacks run. A stream without a Watch
// pays one look at its last option. A StreamWatcher's stream interceptor admits with it.
func AdmitStream(g ConnGate, opts []grpc.CallOption, admit func() error) error {
	if w := gatewatch.Of(opts); w != nil {
		return admitWatched(w, g, opts, admit)
	}
	return calloption.Admit(opts, admit)
}

// admitWatched is AdmitStream for a stream whose last option is w. Not inlined: its frame is
// not on the stack of a stream without a Watch.
//
//go:noinline
func admitWatched(w *gatewatch.Watch, g ConnGate, opts []grpc.CallOption, admit func() error) error {
	if inst, ok := g.(Instant); ok && inst.Instant(opts) {
		return calloption.Admit(opts, admit)
	}
	return calloption.Admit(opts, func() error {
		w.Waiting()
		defer w.Left()
		return admit()
	})
}

// streamWatched opens a stream through stream, a gate's interceptor that may make it wait,
// telling w of the wait (see watchedStream). Apart from watchedStream, so that a stream without
// a Watch makes no closure.
func streamWatched(w *gatewatch.Watch, stream grpc.StreamClientInterceptor, ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts []grpc.CallOption) (grpc.ClientStream, error) {
	left := false
	leave := func() {
		if !left {
			left = true
			w.Left()
		}
	}
	w.Waiting()
	cs, err := stream(ctx, desc, cc, method, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		leave()
		return streamer(ctx, desc, cc, method, opts...)
	}, opts...)
	leave()
	return cs, err
}
