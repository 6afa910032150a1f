package streamend

import (
	"context"
	"io"
	"testing"

	"google.golang.org/grpc"
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
