package streamend

import (
	"context"
	"io"
	"testing"
	"testing/synctest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Regression: a func registered with OnEnd that panicked (an observer's sink with a bug, under
// the breaker's or the suite's func) stopped the funcs registered after it: the deadline's
// context and timer, a bulkhead's slot, stayed held until the caller's context ended, and Ended
// never reported the end. Every func runs, the panic goes on to the caller once they have.
func TestPanickingFuncStillRunsTheOthers(t *testing.T) {
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(caller)
	defer f.finish()
	w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, f)
	var ran []int
	w.OnEnd(func(End) { ran = append(ran, 1) })
	w.OnEnd(func(End) { ran = append(ran, 2); panic("sink") })
	w.OnEnd(func(End) { ran = append(ran, 3) })
	for range 3 { // Into more, past the inline room.
		w.OnEnd(func(End) { ran = append(ran, 4) })
	}
	w.OnEnd(func(End) { ran = append(ran, 5); panic("second") })
	w.OnEnd(func(End) { ran = append(ran, 6) })
	f.recv <- io.EOF
	func() {
		defer func() {
			if v := recover(); v == nil {
				t.Fatal("RecvMsg did not pass the func's panic on")
			}
		}()
		_ = w.RecvMsg(nil)
	}()
	if want := []int{1, 2, 3, 4, 4, 4, 5, 6}; len(ran) != len(want) {
		t.Fatalf("funcs ran %v, want %v", ran, want)
	} else {
		for i := range want {
			if ran[i] != want[i] {
				t.Fatalf("funcs ran %v, want %v", ran, want)
			}
		}
	}
	if e, ended := w.Ended(); !ended || e.Cause != Recv {
		t.Fatalf("Ended() = %+v, %v; want the Recv end", e, ended)
	}
	// The context callback was stopped: the caller's end runs nothing again.
	w.mu.Lock()
	stop := w.stop
	w.mu.Unlock()
	if stop() {
		t.Fatal("the context callback was still registered after the end")
	}
}

// panicky is a client stream whose every method panics with its name.
type panicky struct{ ctx context.Context }

func (p panicky) Header() (metadata.MD, error) { panic("Header") }
func (p panicky) Trailer() metadata.MD         { panic("Trailer") }
func (p panicky) CloseSend() error             { panic("CloseSend") }
func (p panicky) Context() context.Context     { return p.ctx }
func (p panicky) SendMsg(any) error            { panic("SendMsg") }
func (p panicky) RecvMsg(any) error            { panic("RecvMsg") }

// Regression: a method of the stream below that panicked was no end: what the funcs release (a
// bulkhead's slot, a breaker's permit, a deadline's context) stayed held until the caller's
// context ended, and the end was then the caller's. The stream now ends at the panic (Panic,
// ErrPanicked), once, with the caller's context still live, and the panic goes on unchanged.
func TestPanickingMethodEndsTheStream(t *testing.T) {
	for _, method := range []string{"RecvMsg", "SendMsg", "Header", "Trailer", "CloseSend"} {
		t.Run(method, func(t *testing.T) {
			caller, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, panicky{caller})
			var ends []End
			w.OnEnd(func(e End) { ends = append(ends, e) })
			call := func() any { return callRecovered(w, method) }
			if v := call(); v != method {
				t.Fatalf("%s: the caller recovered %v, want %q unchanged", method, v, method)
			}
			if len(ends) != 1 || ends[0].Cause != Panic || ends[0].Err != ErrPanicked {
				t.Fatalf("after %s panicked the funcs saw %+v, want one Panic end with ErrPanicked", method, ends)
			}
			_ = call()
			cancel()
			if len(ends) != 1 {
				t.Fatalf("the funcs saw %+v, want the one Panic end", ends)
			}
			if e, ended := w.Ended(); !ended || e.Cause != Panic {
				t.Fatalf("Ended() = %+v, %v; want the Panic end", e, ended)
			}
		})
	}
}

// endingPanicky is a client stream whose every method ends the caller's context, lets its
// callback run, then panics with its name: gRPC's stream, or a policy's under the watcher,
// that cancels what it holds on its way out of a panic.
type endingPanicky struct {
	ctx context.Context
	end context.CancelFunc
}

func (p endingPanicky) at(method string) { p.end(); synctest.Wait(); panic(method) }

func (p endingPanicky) Header() (metadata.MD, error) { p.at("Header"); return nil, nil }
func (p endingPanicky) Trailer() metadata.MD         { p.at("Trailer"); return nil }
func (p endingPanicky) CloseSend() error             { p.at("CloseSend"); return nil }
func (p endingPanicky) Context() context.Context     { return p.ctx }
func (p endingPanicky) SendMsg(any) error            { p.at("SendMsg"); return nil }
func (p endingPanicky) RecvMsg(any) error            { p.at("RecvMsg"); return nil }

// Regression: CloseSend and Trailer did not count as calls, as RecvMsg, SendMsg and Header do:
// a context that ended while they ran (a layer below cancelling on its way out of the panic)
// was reported at once as the stream's end (Caller, the attempt then reported Canceled) before
// the panic ended it, at random in a suite under -race. Whatever ends during a method that
// panics, the end is the panic's.
func TestContextEndedInAPanickingMethodIsThePanics(t *testing.T) {
	for _, method := range []string{"RecvMsg", "SendMsg", "Header", "Trailer", "CloseSend"} {
		t.Run(method, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				caller, cancel := context.WithCancel(context.Background())
				defer cancel()
				w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, endingPanicky{caller, cancel})
				var ends []End
				w.OnEnd(func(e End) { ends = append(ends, e) })
				if v := callRecovered(w, method); v != method {
					t.Errorf("the caller recovered %v, want %q", v, method)
				}
				synctest.Wait()
				if len(ends) != 1 || ends[0].Cause != Panic {
					t.Fatalf("ends %+v, want one Panic end", ends)
				}
			})
		})
	}
}

// callRecovered calls w's method named method and returns what it panicked with, if anything.
func callRecovered(w *Stream, method string) (v any) {
	defer func() { v = recover() }()
	switch method {
	case "RecvMsg":
		_ = w.RecvMsg(nil)
	case "SendMsg":
		_ = w.SendMsg(nil)
	case "Header":
		_, _ = w.Header()
	case "Trailer":
		_ = w.Trailer()
	case "CloseSend":
		_ = w.CloseSend()
	}
	return nil
}
