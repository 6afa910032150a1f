package streamend

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// conns holds, by ClientConn, the watcher of the streams that named it (WatchConn): one
// goroutine per ClientConn, not per stream, which waits for its shutdown.
var conns sync.Map // *grpc.ClientConn → *connWatch

// connWatch is the list of the live streams that named a ClientConn, and whether it has shut
// down. Its goroutine (run) ends with the ClientConn, and the entry of conns with it.
type connWatch struct {
	mu   sync.Mutex
	head *Stream // Guarded by mu: the streams, linked by connNext and connPrev.
	down bool    // Guarded by mu: the ClientConn has shut down; no stream is added any more.
}

// register adds w to the streams of cc's watcher, made (with its goroutine) if cc has none;
// when cc has shut down already, w learns it now.
func register(cc *grpc.ClientConn, w *Stream) {
	v, ok := conns.Load(cc)
	if !ok {
		nw := new(connWatch)
		if v, ok = conns.LoadOrStore(cc, nw); !ok {
			go nw.run(cc)
		}
	}
	cw := v.(*connWatch)
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

// run waits for cc to shut down, then tells every stream in the list (connClosed) and forgets
// cc.
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
	cw.mu.Unlock()
	conns.CompareAndDelete(cc, cw)
	for _, w := range streams {
		w.connClosed()
	}
}
