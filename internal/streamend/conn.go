package streamend

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// conns holds, by ClientConn, the watcher of the streams that named it (WatchConn) and of the
// waits that asked for its shutdown (ConnDone): one goroutine per ClientConn, not per stream
// or wait, which waits for its shutdown.
var conns sync.Map // *grpc.ClientConn → *connWatch

// connWatch is the list of the live streams that named a ClientConn, the channel closed at
// its shutdown, and whether it has shut down. Its goroutine (run) ends with the ClientConn,
// and the entry of conns with it.
type connWatch struct {
	mu   sync.Mutex
	head *Stream       // Guarded by mu: the streams, linked by connNext and connPrev.
	done chan struct{} // Guarded by mu: closed at the shutdown; made on first use (ConnDone).
	down bool          // Guarded by mu: the ClientConn has shut down; no stream is added any more.
}

// closedDone is the channel ConnDone returns for a ClientConn that has shut down already.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// watcher returns cc's watcher, made (with its goroutine) if cc has none.
func watcher(cc *grpc.ClientConn) *connWatch {
	v, ok := conns.Load(cc)
	if !ok {
		nw := new(connWatch)
		if v, ok = conns.LoadOrStore(cc, nw); !ok {
			go nw.run(cc)
		}
	}
	return v.(*connWatch)
}

// ConnDone returns a channel closed when cc shuts down (ClientConn.Close), after the streams
// that named cc (WatchConn) were told; nil, which never closes, for a nil cc. It is for a call
// that waits (a backoff sleep, a queue for a slot or a token) before gRPC knows of it: gRPC
// ends the calls it holds at Close, and a wait that selects on this channel ends with them.
// The channel is cc's, shared by every wait on it, and made (with cc's watcher, one goroutine
// per ClientConn, see Conn) on the first call for cc: only a call that waits asks for it.
// Once cc has shut down (and its watcher gone), a ConnDone for it makes a watcher again,
// which sees the shutdown at once and closes the channel.
func ConnDone(cc *grpc.ClientConn) <-chan struct{} {
	if cc == nil {
		return nil
	}
	cw := watcher(cc)
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.down {
		return closedDone
	}
	if cw.done == nil {
		cw.done = make(chan struct{})
	}
	return cw.done
}

// register adds w to the streams of cc's watcher, made (with its goroutine) if cc has none;
// when cc has shut down already, w learns it now.
func register(cc *grpc.ClientConn, w *Stream) {
	cw := watcher(cc)
	cw.mu.Lock()
	if cw.down {
		cw.mu.Unlock()
		w.connClosed()
		return
	}
	w.conn.Store(cw)
	w.connNext = cw.head
	if cw.head != nil {
		cw.head.connPrev = w
	}
	cw.head = w
	w.connLinked = true
	cw.mu.Unlock()
	if _, ended := w.Ended(); ended { // It ended while it was being added: remove it.
		cw.remove(w)
	}
}

// remove takes w out of the list, if it is in it.
func (cw *connWatch) remove(w *Stream) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if !w.connLinked {
		return
	}
	if w.connPrev != nil {
		w.connPrev.connNext = w.connNext
	} else {
		cw.head = w.connNext
	}
	if w.connNext != nil {
		w.connNext.connPrev = w.connPrev
	}
	w.connPrev, w.connNext, w.connLinked = nil, nil, false
}

// run waits for cc to shut down, then tells every stream in the list (connClosed), closes
// the channel of the waits (ConnDone), and forgets cc.
func (cw *connWatch) run(cc *grpc.ClientConn) {
	for s := cc.GetState(); s != connectivity.Shutdown; s = cc.GetState() {
		cc.WaitForStateChange(context.Background(), s)
	}
	var streams []*Stream
	cw.mu.Lock()
	cw.down = true
	for w := cw.head; w != nil; {
		next := w.connNext
		w.connPrev, w.connNext, w.connLinked = nil, nil, false
		streams = append(streams, w)
		w = next
	}
	cw.head = nil
	done := cw.done
	cw.mu.Unlock()
	conns.CompareAndDelete(cc, cw)
	for _, w := range streams {
		w.connClosed()
	}
	if done != nil {
		// After the streams: a retry stream sleeping before a retry finds itself committed
		// (see retry's ConnClosed) when its sleep ends.
		close(done)
	}
}
