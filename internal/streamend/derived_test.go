package streamend

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// layerEnd is one end a layer's func saw.
type layerEnd struct {
	layer string
	end   End
}

// layerLog records the ends the funcs of two layers see, in order.
type layerLog struct {
	mu   sync.Mutex
	ends []layerEnd
}

func (l *layerLog) f(layer string) func(End) {
	return func(e End) {
		l.mu.Lock()
		l.ends = append(l.ends, layerEnd{layer, e})
		l.mu.Unlock()
	}
}

// waitFor waits until n ends are logged, and returns them.
func (l *layerLog) waitFor(t *testing.T, n int) []layerEnd {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		got := slices.Clone(l.ends)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ends logged (%+v), want %d", len(got), got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatchDerivedSeesWhatTwoWrappersSaw runs the same ends on a stream watched by two
// interceptors, the inner one for a context derived from the outer one's (a deadline's), once
// with a wrapper each (Watch over Watch) and once with one wrapper (WatchDerived over Watch),
// and wants the same ends for each layer's funcs.
func TestWatchDerivedSeesWhatTwoWrappersSaw(t *testing.T) {
	down := status.Error(grpccodes.Unavailable, "down")
	type stack struct {
		outer, inner context.CancelFunc
		f            *fakeStream
		w            *Stream // the stream the caller holds
		log          *layerLog
	}
	open := func(derived bool) *stack {
		caller, cancelCaller := context.WithCancel(context.Background())
		inner, cancelInner := context.WithCancel(caller)
		f := newFake(inner)
		log := &layerLog{}
		in := Watch(inner, &grpc.StreamDesc{}, f)
		in.OnEnd(log.f("inner"))
		var w *Stream
		if derived {
			w = WatchDerived(caller, inner, &grpc.StreamDesc{}, in)
			if w != in {
				t.Fatal("WatchDerived wrapped a stream watched for the derived context again")
			}
		} else {
			w = Watch(caller, &grpc.StreamDesc{}, in)
		}
		w.OnEnd(log.f("outer"))
		if Watch(caller, &grpc.StreamDesc{}, w) != w {
			t.Fatal("Watch for the outer context did not share the stream")
		}
		return &stack{outer: cancelCaller, inner: cancelInner, f: f, w: w, log: log}
	}
	for _, tc := range []struct {
		name string
		run  func(s *stack)
		n    int  // ends logged
		sort bool // the two layers' ends come from two goroutines in the nested stack
		want []layerEnd
	}{{
		name: "recv error",
		run:  func(s *stack) { s.f.recv <- down; _ = s.w.RecvMsg(nil) },
		n:    2,
		want: []layerEnd{{"inner", End{Err: down, Cause: Recv}}, {"outer", End{Err: down, Cause: Recv}}},
	}, {
		name: "reply",
		run:  func(s *stack) { s.f.recv <- nil; _ = s.w.RecvMsg(nil) },
		n:    2,
		want: []layerEnd{{"inner", End{Cause: Reply}}, {"outer", End{Cause: Reply}}},
	}, {
		name: "caller cancels",
		run:  func(s *stack) { s.outer() },
		n:    2,
		sort: true,
		want: []layerEnd{{"inner", End{Err: context.Canceled, Cause: Caller}}, {"outer", End{Err: context.Canceled, Cause: Caller}}},
	}, {
		name: "caller cancels a committed stream",
		run:  func(s *stack) { commitStream(s.w); s.outer() },
		n:    2,
		sort: true,
		want: []layerEnd{{"inner", End{Err: context.Canceled, Cause: Caller}}, {"outer", End{Err: context.Canceled, Cause: Caller}}},
	}, {
		name: "derived context ends, then a read fails",
		run: func(s *stack) {
			s.inner()
			s.log.waitFor(t, 1)
			s.f.recv <- down
			_ = s.w.RecvMsg(nil)
		},
		n:    2,
		want: []layerEnd{{"inner", End{Err: context.Canceled, Cause: Caller}}, {"outer", End{Err: down, Cause: Recv}}},
	}, {
		name: "derived context ends, then the caller's",
		run: func(s *stack) {
			s.inner()
			s.log.waitFor(t, 1)
			s.outer()
		},
		n:    2,
		want: []layerEnd{{"inner", End{Err: context.Canceled, Cause: Caller}}, {"outer", End{Err: context.Canceled, Cause: Caller}}},
	}, {
		name: "derived context of a committed stream ends",
		run:  func(s *stack) { commitStream(s.w); s.inner() },
		n:    2,
		sort: true,
		want: []layerEnd{{"inner", End{Err: context.Canceled, Cause: Caller}}, {"outer", End{Err: context.Canceled, Cause: Transport}}},
	}, {
		name: "gRPC ends a committed stream",
		run:  func(s *stack) { commitStream(s.w); s.f.finish() },
		n:    2,
		sort: true,
		want: []layerEnd{{"inner", End{Err: context.Canceled, Cause: Transport}}, {"outer", End{Err: context.Canceled, Cause: Transport}}},
	}} {
		for _, derived := range []bool{false, true} {
			s := open(derived)
			tc.run(s)
			got := s.log.waitFor(t, tc.n)
			if tc.sort {
				slices.SortFunc(got, func(a, b layerEnd) int {
					if a.layer < b.layer {
						return -1
					}
					return 1
				})
			}
			time.Sleep(5 * time.Millisecond) // Room for a wrong extra end from a context's goroutine.
			s.log.mu.Lock()
			extra := len(s.log.ends) - tc.n
			s.log.mu.Unlock()
			if !slices.Equal(got, tc.want) || extra != 0 {
				t.Errorf("%s (derived %v): ends %+v (%d more), want %+v", tc.name, derived, got, extra, tc.want)
			}
			if _, ended := s.w.Ended(); !ended {
				t.Errorf("%s (derived %v): the stream the caller holds did not end", tc.name, derived)
			}
			s.outer()
			s.inner()
			s.f.finish()
		}
	}
}

// TestWatchDerivedAllocs pins what a layer for a derived context costs: nothing, where a
// wrapper of its own cost one, its context callback and context.AfterFunc's record and stop.
func TestWatchDerivedAllocs(t *testing.T) {
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	inner, cancelInner := context.WithCancel(caller)
	defer cancelInner()
	desc := &grpc.StreamDesc{}
	f := newFake(inner)
	defer f.finish()
	nop := func(End) {}
	var in *Stream
	n := testing.AllocsPerRun(100, func() {
		in = Watch(inner, desc, f)
		in.OnEnd(nop)
		if WatchDerived(caller, inner, desc, in) != in {
			t.Fatal("not shared")
		}
		in.OnEnd(nop)
		if WatchDerived(caller, inner, desc, in) != in {
			t.Fatal("the outer layer's own context not shared")
		}
		in.stop()
	})
	one := testing.AllocsPerRun(100, func() {
		in = Watch(inner, desc, f)
		in.OnEnd(nop)
		in.stop()
	})
	if n != one {
		t.Fatalf("a stream watched for a context and one derived from it costs %.0f allocations, want %.0f, as one watched once", n, one)
	}
}
