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

// Regression: a Header that returned an error (gRPC counts one among a stream's ends) was no
// end: the stream's end waited for RecvMsg, and a caller that took the error for the stream's
// outcome and cancelled its context ended the stream as abandoned (Caller, context.Canceled),
// which the breaker and the throttle count as nothing. Header's error is the stream's end,
// whatever the caller does next: reads on (RecvMsg returns the status again) or cancels; and
// the end of the stream's context as Header returns is not taken for a Transport end.
func TestHeaderErrorEndsTheStream(t *testing.T) {
	for _, committed := range []bool{false, true} {
		for _, giveUp := range []bool{false, true} {
			name := map[bool]string{false: "first call", true: "after Context"}[committed] + "/" +
				map[bool]string{false: "then RecvMsg", true: "then the caller cancels"}[giveUp]
			t.Run(name, func(t *testing.T) {
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
					if giveUp {
						cancel()
					} else {
						f.recv <- errUnavailable
						if err := w.RecvMsg(nil); err != errUnavailable {
							t.Fatalf("RecvMsg = %v", err)
						}
					}
					synctest.Wait()
					want := End{Err: errUnavailable, Cause: Header}
					if e := r.snapshot(); len(e) != 1 || e[0] != want {
						t.Fatalf("ends = %+v, want [%+v]", e, want)
					}
				})
			})
		}
	}
}

// A Header that returns io.EOF is no end (gRPC's rule names errors other than io.EOF): the
// stream ends with RecvMsg's status.
func TestHeaderEOFIsNoEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caller, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFake(caller)
		w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, eofHeaderStream{f})
		r := newRecorder()
		w.OnEnd(r.f)
		if _, err := w.Header(); err != io.EOF {
			t.Fatalf("Header = %v", err)
		}
		synctest.Wait()
		if e, ended := w.Ended(); ended {
			t.Fatalf("ended (%+v) by Header's io.EOF", e)
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
}

// eofHeaderStream is a fakeStream whose Header ends the stream and returns io.EOF.
type eofHeaderStream struct{ *fakeStream }

func (h eofHeaderStream) Header() (metadata.MD, error) {
	h.finish()
	return nil, io.EOF
}
