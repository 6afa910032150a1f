package streamend

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// headerlessStream is a fakeStream whose response has no header, as gRPC's is when the server
// ends the stream at once: Header ends the stream's context and returns nil, nil, and the
// stream's status is for RecvMsg to return.
type headerlessStream struct{ *fakeStream }

func (h headerlessStream) Header() (metadata.MD, error) {
	h.finish()
	return nil, nil
}

// TestHeaderEndsTheStreamBeforeRecv: the caller reads the header of a stream the server failed
// at once, then RecvMsg. gRPC ended the stream's context in Header; the stream's end is still
// RecvMsg's, with the status (the breaker's failure, the suite's CallFinished), not a Transport
// end that counts as nothing, whether or not the context's callback ran before RecvMsg. A
// caller that gives up after Header ends the stream with its context (Caller).
func TestHeaderEndsTheStreamBeforeRecv(t *testing.T) {
	for _, giveUp := range []bool{false, true} {
		t.Run(map[bool]string{false: "then RecvMsg", true: "then the caller cancels"}[giveUp], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				caller, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := newFake(caller)
				w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, headerlessStream{f})
				r := newRecorder()
				w.OnEnd(r.f)
				if md, err := w.Header(); md != nil || err != nil {
					t.Fatalf("Header = %v, %v", md, err)
				}
				synctest.Wait() // the context's callback has run
				if e, ended := w.Ended(); ended {
					t.Fatalf("ended (%+v) by Header, before the status was read", e)
				}
				var want End
				if giveUp {
					cancel()
					synctest.Wait()
					want = End{Err: context.Canceled, Cause: Caller}
				} else {
					f.recv <- errUnavailable
					if err := w.RecvMsg(nil); err != errUnavailable {
						t.Fatalf("RecvMsg = %v", err)
					}
					want = End{Err: errUnavailable, Cause: Recv}
				}
				if e := r.snapshot(); len(e) != 1 || e[0] != want {
					t.Fatalf("ends = %+v, want [%+v]", e, want)
				}
			})
		})
	}
}

// gatedCaller is a caller's context whose first Err call, made by the context callback that
// saw the stream's context end with nobody reading, waits at gate: the test runs a call in
// between.
type gatedCaller struct {
	context.Context
	entered chan struct{} // closed when the first Err call waits
	gate    chan struct{}
	first   atomic.Bool
}

func (g *gatedCaller) Err() error {
	if g.first.CompareAndSwap(false, true) {
		close(g.entered)
		<-g.gate
	}
	return g.Context.Err()
}

// eofStream is a movingStream whose SendMsg returns io.EOF, as gRPC's does once the stream
// is over.
type eofStream struct{ *movingStream }

func (eofStream) SendMsg(any) error { return io.EOF }

// TestStaleContextEnd: the stream's context ends with nobody reading, and its callback is
// slow to look; meanwhile a SendMsg starts and leaves, and its leave handles the end: the
// stream watches another context (a retry's next attempt's; the caller's, after a Header that
// ended the stream). The callback's late look is stale: it must not end the stream (a
// Transport end with a nil error, while the stream goes on).
func TestStaleContextEnd(t *testing.T) {
	for _, headerless := range []bool{false, true} {
		t.Run(map[bool]string{false: "moved to the next attempt", true: "ended in Header"}[headerless], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base, cancel := context.WithCancel(context.Background())
				defer cancel()
				caller := &gatedCaller{Context: base, entered: make(chan struct{}), gate: make(chan struct{})}
				a1, end1 := context.WithCancel(caller)
				a2, end2 := context.WithCancel(caller)
				defer end2()
				m := &movingStream{ctx: a1, recv: make(chan error, 4)}
				w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, eofStream{m})
				commitStream(w)
				r := newRecorder()
				w.OnEnd(r.f)
				if headerless {
					w.mu.Lock()
					w.headerless = true // as a Header that ended the stream leaves it
					w.mu.Unlock()
				} else {
					m.move(a2)
				}
				end1()
				<-caller.entered // the callback saw the end with nobody reading, and waits
				if err := w.SendMsg(nil); err != io.EOF {
					t.Fatalf("SendMsg = %v", err)
				}
				close(caller.gate)
				synctest.Wait()
				if e, ended := w.Ended(); ended {
					t.Fatalf("ended (%+v) by a stale look at a context no longer watched", e)
				}
				m.recv <- errUnavailable
				if err := w.RecvMsg(nil); err != errUnavailable {
					t.Fatalf("RecvMsg = %v", err)
				}
				want := End{Err: errUnavailable, Cause: Recv}
				if e := r.snapshot(); len(e) != 1 || e[0] != want {
					t.Fatalf("ends = %+v, want [%+v]", e, want)
				}
			})
		})
	}
}

// failingHeaderStream is a fakeStream whose Header ends the stream and returns its error, as a
// stream that wraps gRPC's may (a retry's, once it is over): the status is RecvMsg's too.
type failingHeaderStream struct{ *fakeStream }

func (h failingHeaderStream) Header() (metadata.MD, error) {
	h.finish()
	return nil, errUnavailable
}

// Regression: a Header that returned an error as the stream's context ended was taken for a
// header read: the stream's context was watched, and its end, seen as Header returned, ended
// the stream as Transport (which the breaker and the suite count as nothing) before RecvMsg
// returned the status. A Header without a header is no end, with an error or without.
func TestHeaderErrorEndsTheStreamAtRecv(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(map[bool]string{false: "first call", true: "after Context"}[committed], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				caller, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := newFake(caller)
				w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, failingHeaderStream{f})
				if committed {
					commitStream(w)
				}
				r := newRecorder()
				w.OnEnd(r.f)
				if md, err := w.Header(); md != nil || err != errUnavailable {
					t.Fatalf("Header = %v, %v", md, err)
				}
				synctest.Wait()
				if e, ended := w.Ended(); ended {
					t.Fatalf("ended (%+v) by Header, before the status was read", e)
				}
				f.recv <- errUnavailable
				if err := w.RecvMsg(nil); err != errUnavailable {
					t.Fatalf("RecvMsg = %v", err)
				}
				want := End{Err: errUnavailable, Cause: Recv}
				if e := r.snapshot(); len(e) != 1 || e[0] != want {
					t.Fatalf("ends = %+v, want [%+v]", e, want)
				}
			})
		})
	}
}
