// Package streamend tells the policies that hold something for a stream's life (a breaker
// permit, a bulkhead slot, a deadline's context, an observer's event) when that stream is
// over, once.
//
// # Ends
//
// A client stream ends at the first of:
//   - RecvMsg returns an error (io.EOF is the normal end, a success): Recv;
//   - RecvMsg returns the one reply of a stream that is not server-streaming: Reply;
//   - SendMsg fails with an error other than io.EOF (io.EOF means the server ended the
//     stream; its status comes from RecvMsg): Send;
//   - Header returns an error other than io.EOF, which gRPC counts among a stream's ends
//     (grpc.ClientConn.NewStream): the error is the stream's outcome, the one its caller
//     saw: Header;
//   - the caller's context ends first while no RecvMsg or SendMsg is running (the stream is
//     abandoned): Caller;
//   - gRPC ends the stream's context (it finished the stream) while the caller's is still
//     live and no RecvMsg or SendMsg is running to report the end itself, once the stream's
//     context is watched (see Commit), or the ClientConn a policy named shut down (see
//     Conn): Transport;
//   - RecvMsg, SendMsg, Header, Trailer or CloseSend of the stream below panics (or ends its
//     goroutine: runtime.Goexit): Panic. The funcs run as the panic goes on, unrecovered, to
//     the caller; what they hold for the stream is released then, not when the caller's
//     context ends. A caller that recovers the panic and reads on reads the stream below,
//     which nothing holds anything for any more.
//
// A Header that returns no error is no end (unless it panics: Panic): gRPC ends a stream in
// Header when the response has no header (the server ended the stream at once), and Header
// then returns nil, nil; the stream's status is for RecvMsg to return, and the stream ends
// there (Recv), or with the caller's context (Caller), or, once a policy has named the stream's
// ClientConn (WatchConn), when that ClientConn shuts down (Close), the third way gRPC lets a
// caller release a stream: Transport, as no status was seen. Nothing else ends it: gRPC has
// finished the stream, so nothing more happens to it that could be watched, and what a policy
// holds for it (a breaker's probe permit, a bulkhead's slot) stays held until one of the three.
// (See Conn for how a ClientConn is watched.) gRPC's own Header never returns an
// error; a stream that wraps gRPC's may (a retry's, once it is over), and that error ends the
// stream (Header), whether or not the caller reads on or cancels after it.
//
// The stream's context ends with the caller's and on every end gRPC sees, so one
// context.AfterFunc on it watches the last two once it is known; until then one on the
// caller's context watches the caller's end. A RecvMsg or SendMsg under way when the context
// watched ends reports the end itself, with what it returns (the status, or the caller's
// cancellation), when it returns: Caller and Transport are only for a stream nobody is
// reading or writing, so that a stream's end does not depend on which goroutine wins.
//
// # Commit
//
// Reading a gRPC stream's Context commits the stream to its current attempt, which turns off
// gRPC's retries of it: transparent ones (of a stream the server refused before processing
// it, as with GOAWAY or REFUSED_STREAM) and a service config's retry policy. So the stream's
// Context is not read before gRPC has committed the stream itself, which it does when its
// response starts or it ends: once a RecvMsg or Header has returned, or when the caller asks
// for the stream's Context (Stream.Context). Until then the caller's context is watched
// instead, and a stream gRPC finishes (a connection closed, a service config's timeout) is
// not seen until a RecvMsg returns its status, the caller's context ends, or the stream's
// ClientConn, once a policy has named it (WatchConn), shuts down. gRPC requires a stream's
// caller to read it to its end, cancel its context or close the ClientConn; a caller that does
// none of the three holds what a policy holds for the stream (a breaker's permit, a bulkhead's
// slot, a deadline's context) for as long.
//
// # Conn
//
// A ClientConn that shuts down finishes its streams, which ends their contexts. A stream that
// a policy named its ClientConn (WatchConn) is held, while it lives, in the list of that
// ClientConn's one watcher: one goroutine per ClientConn, not per stream, which waits for its
// shutdown and then ends with it. When the ClientConn shuts down, the watcher commits each
// stream of its list not yet committed (it reads its Context: nothing is lost, a shut down
// ClientConn retries nothing), so that the end of the stream's context ends it (Transport,
// unless a call under way reports the end), and ends each stream gRPC ended in Header
// (Transport). A stream that names a ClientConn already shut down learns it at once. A stream
// below whose Context does not end with gRPC's shutdown by itself, because it stands for
// several of gRPC's streams and is not yet committed to one (a retry's, committed or not from
// this package's view: its Context may have been read), is told first when it is a
// ConnCloser, and then makes its context end with the attempt gRPC ends; the retry stream
// names its ClientConn for that, with or without a suite around it. The watcher of a
// ClientConn that is never closed stays, with its entry, as gRPC's own goroutines of that
// ClientConn do: its list holds only the streams still live. The same watcher closes
// ConnDone's channel, for a call that waits before gRPC knows of it (a retry's backoff sleep),
// once it has told the streams.
//
// # Sharing
//
// Watch returns the stream it is given when that is already a *Stream watched for the same
// caller's context, so interceptors stacked with one context share one wrapper and one
// context.AfterFunc; each registers its func with OnEnd, or with OnEndOf a value it holds for
// the stream anyway (or its context's cancel func, as Cancel), which costs no allocation.
//
// An interceptor that passes the rest of the chain a context derived from its caller's (a
// deadline's) calls WatchDerived instead: when the stream it gets back is a *Stream watched
// for that derived context, the same *Stream is watched for the caller's context too, as an
// outer layer, with no second wrapper nor context.AfterFunc. Each layer's funcs see the end
// a wrapper of their own would have seen: the same end for RecvMsg's and SendMsg's (the
// inner layer's funcs first); a context end, which ends the inner layer first (its context
// ends with the caller's), then the outer one as its own context and the stream's say (the
// derived context's deadline ends the inner layer, Caller, and leaves the outer one
// watching its caller's context until the stream is committed, after which the stream's
// context, ended with it, ends the outer layer, Transport).
package streamend

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Cause says which end came first.
type Cause uint8

// The ends of a stream; see the package documentation.
const (
	Recv Cause = iota + 1
	Reply
	Send
	Caller
	Transport
	Panic
	Header
)

var causeNames = [...]string{"", "recv", "reply", "send", "caller", "transport", "panic", "header"}

// ErrPanicked is the Err of a Panic end: no status was seen, and none is the stream's.
var ErrPanicked = status.Error(codes.Internal, "bulwark: a method of the stream panicked")

func (c Cause) String() string {
	if int(c) < len(causeNames) && c != 0 {
		return causeNames[c]
	}
	return "unknown"
}

// End is how a stream ended.
type End struct {
	// Err is nil for a success (io.EOF from RecvMsg, or the one reply); RecvMsg's,
	// SendMsg's or Header's error; the caller's context's error (Caller); the stream's context's error
	// (Transport); ErrPanicked (Panic).
	Err   error
	Cause Cause
}

// Abandoned reports whether the caller's context ended before the stream did.
func (e End) Abandoned() bool { return e.Cause == Caller }

// Stream is a grpc.ClientStream that runs the funcs registered with OnEnd exactly once, at
// its first end.
type Stream struct {
	grpc.ClientStream
	caller        context.Context
	serverStreams bool

	// state is twice the number of RecvMsg, SendMsg and Header calls running, plus 1 once
	// the context watched ended (ctxEnded).
	state atomic.Uint32

	onCtxDone func() // Guarded by mu: ctxDone, the func of every context.AfterFunc; made on first use.

	// uncommitted is set until the stream's context is read, which is not before gRPC has
	// committed the stream (see commit); the caller's context is watched until then.
	uncommitted atomic.Bool

	mu     sync.Mutex
	sctx   context.Context // Guarded by mu: the context watched, the stream's or the caller's.
	stop   func() bool     // Guarded by mu: stops the context.AfterFunc on sctx.
	ended  bool            // Guarded by mu: every layer has ended.
	end    End             // Guarded by mu; set when ended: the last layer's end.
	ran    bool            // Guarded by mu: the funcs registered before the end have run.
	n      int             // Guarded by mu: funcs of the current layer held in inline.
	inline [4]Ender
	more   []Ender

	// outer is guarded by mu: the layers watched for the contexts that the current layer's
	// caller was derived from (see WatchDerived), innermost first; nil for a stream watched
	// for one context. caller, inline and more are the current (innermost live) layer's.
	outer *layer
	first layer // Guarded by mu: the first outer layer's room, which needs no allocation.

	// headerless is guarded by mu: gRPC ended the stream in Header, and its status waits
	// for RecvMsg; the caller's context is watched from then on, and the ClientConn (cc).
	headerless bool

	// cc is the ClientConn the stream runs on, when a policy named it (WatchConn).
	cc atomic.Pointer[grpc.ClientConn]
	// conn is the watcher of cc that holds the stream in its list while it is live (see
	// register); nil until then.
	conn atomic.Pointer[connWatch]
	// connPrev and connNext link the streams of conn; connLinked says the stream is in the
	// list. Guarded by conn's mu.
	connPrev, connNext *Stream
	connLinked         bool
	// connDown is guarded by mu: cc shut down before the stream ended.
	connDown bool
}

const (
	ctxEnded = 1
	inCall   = 2
)

// layer is an outer layer of a Stream: the funcs of the interceptors that watch the stream for
// caller, a context that the layer inside it was derived from (see WatchDerived).
type layer struct {
	caller context.Context
	n      int
	inline [4]Ender
	more   []Ender
	next   *layer
}

// Watch returns cs wrapped so that the funcs registered with OnEnd run once, at the first
// end of the stream; caller is the context the stream was opened with by the interceptor
// that calls Watch, and cs.Context() must end when it does (gRPC's stream contexts do). When
// cs is a *Stream watched for the same caller, Watch returns it.
//
// Watch does not call cs.Context(): it watches caller until the stream's context is known
// (see Stream.Context and the package documentation).
func Watch(caller context.Context, desc *grpc.StreamDesc, cs grpc.ClientStream) *Stream {
	if w, ok := cs.(*Stream); ok && w.serverStreams == desc.ServerStreams && w.layerFor(caller, nil) {
		return w
	}
	return watch(caller, desc, cs)
}

// WatchDerived is Watch for an interceptor that opened cs with inner, a context derived from
// caller (it ends when caller does): when cs is a *Stream watched for inner (the outermost
// layer, not yet ended), it is watched for caller too, as a new outer layer, and returned (see
// the package documentation); the funcs registered with OnEnd from then on are that layer's.
func WatchDerived(caller, inner context.Context, desc *grpc.StreamDesc, cs grpc.ClientStream) *Stream {
	if w, ok := cs.(*Stream); ok && w.serverStreams == desc.ServerStreams && w.layerFor(caller, inner) {
		return w
	}
	return watch(caller, desc, cs)
}

// layerFor reports whether w serves the interceptors that watch it for caller: its outermost
// layer is watched for caller, or, inner being not nil, for inner, and a layer for caller is
// then added outside it.
func (w *Stream) layerFor(caller, inner context.Context) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	top := w.caller
	last := w.outer
	for last != nil && last.next != nil {
		last = last.next
	}
	if last != nil {
		top = last.caller
	}
	if sameContext(top, caller) {
		return true
	}
	if inner == nil || w.ended || !sameContext(top, inner) {
		return false
	}
	if last != nil {
		last.next = &layer{caller: caller}
	} else {
		w.first = layer{caller: caller}
		w.outer = &w.first
	}
	return true
}

// watch wraps cs in a new Stream watched for caller (see Watch).
func watch(caller context.Context, desc *grpc.StreamDesc, cs grpc.ClientStream) *Stream {
	w := &Stream{ClientStream: cs, caller: caller, serverStreams: desc.ServerStreams}
	w.uncommitted.Store(true)
	w.mu.Lock() // The callback may run at once; it waits for stop to be set.
	w.watchLocked(caller)
	w.mu.Unlock()
	return w
}

// sameContext reports whether a and b are the same context; a context type that cannot be
// compared is never the same.
func sameContext(a, b context.Context) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// WatchConn names cc, the ClientConn the stream runs on, so that the stream ends when cc shuts
// down, if nothing ended it before, even when it is not committed or gRPC ended it in Header
// (see Conn in the package documentation). The first ClientConn named is the stream's; a nil cc
// names none.
func (w *Stream) WatchConn(cc *grpc.ClientConn) {
	if cc != nil && w.cc.CompareAndSwap(nil, cc) {
		register(cc, w)
	}
}

// Ender is what OnEndOf registers: a value that a layer already holds for the stream (an
// observer's record, a retry's stream), whose StreamEnded runs once, at the stream's end, with
// how it ended. Registering it costs no allocation, where a method value or a closure handed
// to OnEnd costs one.
type Ender interface {
	StreamEnded(End)
}

// endFunc is a func registered with OnEnd. A func value is one pointer, so it is an Ender with
// no allocation.
type endFunc func(End)

func (f endFunc) StreamEnded(e End) { f(e) }

// Cancel is a context's cancel func as an Ender: registered with OnEndOf, it releases the
// context at the stream's end, with no closure around it.
type Cancel context.CancelFunc

// StreamEnded calls the cancel func.
func (c Cancel) StreamEnded(End) { c() }

// OnEnd registers f to run once, at the stream's end, with how it ended; after the funcs
// registered before it. When the stream has ended already, f runs now, on this goroutine.
// Funcs run on the goroutine that saw the end: a RecvMsg or SendMsg caller, or the
// context's. f belongs to the outermost layer (see WatchDerived).
func (w *Stream) OnEnd(f func(End)) {
	w.OnEndOf(endFunc(f))
}

// OnEndOf registers f as OnEnd registers a func: its StreamEnded runs once, at the stream's
// end, in the order of registration with the funcs and Enders registered before and after it.
func (w *Stream) OnEndOf(f Ender) {
	w.mu.Lock()
	if w.ended {
		e := w.end
		w.mu.Unlock()
		f.StreamEnded(e)
		return
	}
	n, inline, more := &w.n, w.inline[:], &w.more
	if l := w.outer; l != nil {
		for l.next != nil {
			l = l.next
		}
		n, inline, more = &l.n, l.inline[:], &l.more
	}
	if *n < len(inline) {
		inline[*n] = f
		*n++
	} else {
		*more = append(*more, f)
	}
	w.mu.Unlock()
}

// Ended reports whether the stream has ended and the funcs registered before its end have
// run (what they account for is done), and how it ended.
func (w *Stream) Ended() (End, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.end, w.ran
}

// RecvMsg ends the stream on an error or on the one reply of a stream that is not
// server-streaming. Once it returns, gRPC has committed the stream, and the stream's context
// is watched (see commit).
func (w *Stream) RecvMsg(m any) error {
	w.state.Add(inCall)
	defer w.leave()
	returned := false
	defer w.panicked(&returned)
	err := w.ClientStream.RecvMsg(m)
	returned = true
	switch {
	case err == nil:
		if !w.serverStreams {
			w.finish(End{Cause: Reply})
		}
	case errors.Is(err, io.EOF):
		w.finish(End{Cause: Recv})
	default:
		w.finish(End{Err: err, Cause: Recv})
	}
	w.commit(false)
	return err
}

// SendMsg ends the stream on an error other than io.EOF.
func (w *Stream) SendMsg(m any) error {
	w.state.Add(inCall)
	defer w.leave()
	returned := false
	defer w.panicked(&returned)
	err := w.ClientStream.SendMsg(m)
	returned = true
	if err != nil && !errors.Is(err, io.EOF) {
		w.finish(End{Err: err, Cause: Send})
	}
	return err
}

// Header returns the stream's header, and ends the stream on an error other than io.EOF (see
// the package documentation). It counts as a call, as RecvMsg and SendMsg do: when gRPC ends
// the stream in it (see the package documentation), returning no header and no error, the
// end of the stream's context is not the stream's, whose status RecvMsg returns; the stream
// then watches the caller's context instead, for a caller that gives up without reading.
// Else, once it returns, gRPC has committed the stream, and the stream's context is watched
// (see commit).
func (w *Stream) Header() (metadata.MD, error) {
	w.state.Add(inCall)
	defer w.leave()
	returned := false
	defer w.panicked(&returned)
	md, err := w.ClientStream.Header()
	returned = true
	if err != nil && !errors.Is(err, io.EOF) {
		w.finish(End{Err: err, Cause: Header})
	}
	w.commit(md == nil)
	return md, err
}

// Trailer returns the stream's trailer; should it panic, the stream ends (Panic). It counts as
// a call, as RecvMsg does: an end of the stream's context while it runs is reported once it
// returns, so that a panic in it is the stream's end.
func (w *Stream) Trailer() metadata.MD {
	w.state.Add(inCall)
	defer w.leave()
	returned := false
	defer w.panicked(&returned)
	md := w.ClientStream.Trailer()
	returned = true
	return md
}

// CloseSend closes the send side; should it panic, the stream ends (Panic). It counts as a
// call, as Trailer does.
func (w *Stream) CloseSend() error {
	w.state.Add(inCall)
	defer w.leave()
	returned := false
	defer w.panicked(&returned)
	err := w.ClientStream.CloseSend()
	returned = true
	return err
}

// panicked ends the stream (Panic) when a method of the stream below did not return (it
// panicked, or ended its goroutine), as the panic goes on: it is not recovered.
func (w *Stream) panicked(returned *bool) {
	if !*returned {
		w.finish(End{Err: ErrPanicked, Cause: Panic})
	}
}

// Context returns the stream's context. gRPC commits the stream to its attempt when it is
// asked for it, so the stream's context is watched from now on (see commit).
func (w *Stream) Context() context.Context {
	w.commit(false)
	return w.ClientStream.Context()
}

// commit runs once gRPC has committed the stream to its attempt: a RecvMsg or Header has
// returned (gRPC commits when the response starts, or the stream ends), or the stream's
// Context was asked for (which commits it). Until then the stream's Context is not read, for
// reading it commits the stream at once and turns off gRPC's retries (transparent ones, of a
// stream the server refused unprocessed, and a service config's retry policy). From the
// first commit on, the stream's context is watched instead of the caller's; noHeader is set
// for a Header that returned no header, which may have ended the stream (see Header).
func (w *Stream) commit(noHeader bool) {
	if !noHeader && !w.uncommitted.Load() {
		return
	}
	if w.commitLocked(noHeader) {
		// The ClientConn shut down before the stream was found headerless: that ends it
		// (reported by the leave of the Header under way).
		w.ctxDone()
	}
}

// commitLocked is commit's work under w.mu; it reports whether the stream was found headerless
// after its ClientConn shut down (see connClosed).
func (w *Stream) commitLocked(noHeader bool) (connDown bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended { // Nothing left to watch.
		w.uncommitted.Store(false)
		return false
	}
	c := w.ClientStream.Context()
	if noHeader && c != nil && c.Err() != nil && !w.headerless {
		w.headerless = true
		connDown = w.connDown
	}
	if !w.uncommitted.Load() {
		return
	}
	w.uncommitted.Store(false)
	if w.headerless || c == nil || sameContext(c, w.caller) {
		// Nothing to watch, or the caller's context stays watched: a stream ended in
		// Header waits for RecvMsg or the caller.
		return connDown
	}
	if !w.stop() {
		// The caller's context ended, and its callback ran or runs: the end is the
		// caller's, reported by the callback or by the leave of the call under way.
		return connDown
	}
	w.watchLocked(c)
	return connDown
}

// connClosed runs when the ClientConn the stream named (WatchConn) has shut down, which
// gRPC counts among a stream's ends: gRPC finishes the ClientConn's streams, which ends their
// contexts. A stream below that is a ConnCloser is told first. A stream not yet committed is
// committed now (its Context is read), as nothing is lost by it any more (a ClientConn shut
// down retries nothing), so that the end of its context ends it (Transport) as for any
// committed stream; a stream gRPC ended in Header, whose context ended already, ends now
// (Transport), unless a call under way reports its end.
func (w *Stream) connClosed() {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return
	}
	w.connDown = true
	headerless := w.headerless
	w.mu.Unlock()
	if c, ok := w.ClientStream.(ConnCloser); ok {
		c.ConnClosed()
	}
	if headerless {
		w.ctxDone()
		return
	}
	w.commit(false) // Should Header find it headerless meanwhile, commit ends it.
}

// ConnCloser is what a stream under a Stream implements when it stands for a sequence of
// gRPC's streams (a retry's attempts) and its Context ends only with the one it is committed
// to: gRPC's shutdown of the ClientConn ends the attempt under way, not such a stream. When
// the ClientConn named with WatchConn shuts down before the Stream ended, ConnClosed is called
// once, before the stream's Context is read (see Conn in the package documentation), on the
// ClientConn's watcher's goroutine or on the one naming a ClientConn already shut down, with
// no lock of the Stream held: the stream then makes its Context end with the end of the
// attempt under way (or at once, for an attempt over already), as gRPC's own stream's ends.
type ConnCloser interface {
	ConnClosed()
}

// leave ends a RecvMsg, SendMsg or Header call; the last one out after the stream's context
// ended reports the Caller or Transport end, if nothing ended the stream before.
func (w *Stream) leave() {
	if w.state.Add(^uint32(inCall-1)) == ctxEnded {
		w.ctxEnd()
	}
}

// ctxDone runs when the stream's context ends. A RecvMsg or SendMsg under way reports the end
// itself when it returns, with what it returns (the caller's cancellation, say): one outcome
// whoever wins the race between the call and this callback.
func (w *Stream) ctxDone() {
	if w.state.Or(ctxEnded) == 0 { // No call running that would report the end.
		w.ctxEnd()
	}
}

// ctxEnd reports the end of a stream whose context ended while no call was running: the
// caller's (Caller), else gRPC's (Transport).
func (w *Stream) ctxEnd() {
	w.mu.Lock()
	caller := w.caller
	w.mu.Unlock()
	if err := caller.Err(); err != nil {
		w.finish(End{Err: err, Cause: Caller})
		return
	}
	w.transport()
}

// transport reports the Transport end, unless the stream goes on: its Context moved on to
// another, live context, which it watches instead; or gRPC ended it in Header, and its status
// waits for RecvMsg while the caller's context is watched instead, until its ClientConn shuts
// down (connClosed).
func (w *Stream) transport() {
	w.mu.Lock()
	if !w.ended && w.headerless && w.connDown {
		err := context.Canceled // gRPC's end of the stream's context, seen in Header
		if c := w.ClientStream.Context(); c != nil && c.Err() != nil {
			err = c.Err()
		}
		w.mu.Unlock()
		w.finish(End{Err: err, Cause: Transport})
		return
	}
	if w.ended || w.sctx.Err() == nil {
		// Ended; or the context watched now is live: this look is a stale one at a context
		// replaced since (the context callback and a call's leave both saw it end, and the
		// other one moved on).
		w.mu.Unlock()
		return
	}
	if cur := w.ClientStream.Context(); cur != nil && cur.Err() == nil && !sameContext(cur, w.sctx) {
		w.watchLocked(cur)
		w.mu.Unlock()
		return
	}
	if w.headerless && !sameContext(w.sctx, w.caller) {
		w.watchLocked(w.caller)
		w.mu.Unlock()
		return
	}
	err := w.sctx.Err()
	w.mu.Unlock()
	w.finish(End{Err: err, Cause: Transport})
}

// watchLocked watches ctx instead of the context watched so far, whose callback has run
// (the context ended) or was stopped.
//
// A context that never ends (its Done is nil, as context.Background's) needs no callback: it
// gets none, nor the func it would run, made on the first context that can end. A stream opened
// with such a caller's context, and ended by a RecvMsg, a SendMsg or a Header before a context
// that can end is watched, costs its wrapper alone.
func (w *Stream) watchLocked(ctx context.Context) {
	w.state.And(^uint32(ctxEnded))
	w.sctx = ctx
	if ctx.Done() == nil {
		w.stop = neverStarted
		return
	}
	if w.onCtxDone == nil {
		w.onCtxDone = w.ctxDone // One func value for every context watched in turn.
	}
	w.stop = context.AfterFunc(ctx, w.onCtxDone)
}

// neverStarted is the stop func of a context that never ends (see watchLocked): its callback,
// which was never registered, did not run, as context.AfterFunc's stop reports with true.
func neverStarted() bool { return true }

// finish stops the context callback and runs the registered funcs with e, unless the stream
// ended already. The callback is stopped first: a func that ends the context watched (a
// deadline's cancel func) would otherwise start the callback's goroutine, one a stream, only
// for it to find the stream ended. A func that panics keeps none of the others from running
// (what they hold for the stream is released all the same): the panic goes on once they have
// run.
//
// e ends every layer (see WatchDerived) but for a context's end (Caller, Transport) of a
// stream with outer layers: that ends the current layer, and the next one goes on as its
// own wrapper would have (see next).
func (w *Stream) finish(e End) {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return
	}
	if w.outer != nil && (e.Cause == Caller || e.Cause == Transport) {
		w.next(e)
		return
	}
	w.ended, w.end = true, e
	inline, n, more, stop, outer := w.inline, w.n, w.more, w.stop, w.outer
	w.outer = nil
	w.mu.Unlock()
	stop()
	defer w.ranAll()
	if outer != nil {
		defer callLayers(outer, e) // After the inner layer's, as a panic of one of them passes too.
	}
	defer callAll(more, e) // After inline's, as a panic of one of them passes too.
	callAll(inline[:n], e)
}

// next ends the current layer with e, the end of the context it watched, and makes the next
// layer the current one, which watches what its own wrapper would have: its caller's context
// (before the stream is committed, or for a stream gRPC ended in Header, or whose context is
// that caller's), else the stream's. Its end comes now when either ended (the caller's:
// Caller; the stream's, ended with the inner layer's context: as transport says), else later.
// w.mu is held, and released.
func (w *Stream) next(e End) {
	inline, n, more := w.inline, w.n, w.more
	old, l := w.caller, w.outer
	w.caller, w.n, w.inline, w.more, w.outer = l.caller, l.n, l.inline, l.more, l.next
	caller := w.caller
	then := 0 // 1: the caller's end; 2: as transport says.
	switch {
	case caller.Err() != nil:
		then = 1
	case w.headerless && w.connDown:
		then = 2 // The ClientConn shut down: it ends this layer too.
	case sameContext(w.sctx, old):
		c := w.caller
		if !w.uncommitted.Load() && !w.headerless {
			if sc := w.ClientStream.Context(); sc != nil && !sameContext(sc, w.caller) {
				c = sc
			}
		}
		if c.Err() == nil {
			w.watchLocked(c)
		} else {
			w.sctx, then = c, 2
		}
	default:
		then = 2
	}
	w.mu.Unlock()
	func() {
		defer callAll(more, e)
		callAll(inline[:n], e)
	}()
	switch then {
	case 1:
		w.finish(End{Err: caller.Err(), Cause: Caller})
	case 2:
		w.transport()
	}
}

// callLayers calls the funcs of l and the layers outside it with e, in order, as callAll does.
func callLayers(l *layer, e End) {
	if l.next != nil {
		defer callLayers(l.next, e)
	}
	defer callAll(l.more, e)
	callAll(l.inline[:l.n], e)
}

// ranAll notes that the funcs registered before the end have run, and takes the stream off its
// ClientConn's list.
func (w *Stream) ranAll() {
	w.mu.Lock()
	w.ran = true
	w.mu.Unlock()
	if cw := w.conn.Load(); cw != nil {
		cw.remove(w)
	}
}

// callAll calls fs with e, in order; when one panics, the ones after it run as the panic goes
// on.
func callAll(fs []Ender, e End) {
	i := 0
	defer func() {
		if i < len(fs) { // fs[i] panicked.
			callAll(fs[i+1:], e)
		}
	}()
	for ; i < len(fs); i++ {
		fs[i].StreamEnded(e)
	}
}
