package streamend

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStream is a grpc.ClientStream whose context is a child of the caller's, as gRPC's is;
// finish cancels it, as gRPC does when it ends the stream. RecvMsg answers from recv (or,
// when block is set, waits for a value on it); SendMsg returns sendErr.
type fakeStream struct {
	ctxCalls atomic.Int32 // Counts the Context calls.
	ctx      context.Context
	finish   context.CancelFunc
	recv     chan error
	sendErr  error
	sendGo   chan struct{} // When set, SendMsg waits for it.
}

func newFake(caller context.Context) *fakeStream {
	ctx, cancel := context.WithCancel(caller)
	return &fakeStream{ctx: ctx, finish: cancel, recv: make(chan error, 8)}
}

func (f *fakeStream) Header() (metadata.MD, error) { return nil, nil }
func (f *fakeStream) Trailer() metadata.MD         { return nil }
func (f *fakeStream) CloseSend() error             { return nil }
func (f *fakeStream) Context() context.Context {
	f.ctxCalls.Add(1)
	return f.ctx
}
func (f *fakeStream) SendMsg(any) error {
	if f.sendGo != nil {
		<-f.sendGo
	}
	return f.sendErr
}
func (f *fakeStream) RecvMsg(any) error { return <-f.recv }

// recorder counts the ends it is given.
type recorder struct {
	mu   sync.Mutex
	ends []End
	got  chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 16)} }

func (r *recorder) f(e End) {
	r.mu.Lock()
	r.ends = append(r.ends, e)
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no end reported")
	}
}

func (r *recorder) snapshot() []End {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]End(nil), r.ends...)
}

var (
	errUnavailable = status.Error(grpccodes.Unavailable, "down")
	errSendFailed  = errors.New("send: message too large")
)

func TestEnds(t *testing.T) {
	tests := []struct {
		name          string
		serverStreams bool
		// act drives the stream; it returns once the end (if any) was reported.
		act       func(t *testing.T, w *Stream, f *fakeStream, cancelCaller context.CancelFunc, r *recorder)
		wantCause Cause // 0: no end
		wantErr   func(error) bool
	}{
		{
			name: "RecvMsg io.EOF is a success", serverStreams: true,
			act: func(t *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, r *recorder) {
				f.recv <- nil
				f.recv <- io.EOF
				if err := w.RecvMsg(nil); err != nil {
					t.Fatal(err)
				}
				if err := w.RecvMsg(nil); err != io.EOF {
					t.Fatal(err)
				}
			},
			wantCause: Recv, wantErr: isNil,
		},
		{
			name: "RecvMsg error", serverStreams: true,
			act: func(_ *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, _ *recorder) {
				f.recv <- errUnavailable
				_ = w.RecvMsg(nil)
			},
			wantCause: Recv, wantErr: is(errUnavailable),
		},
		{
			name: "the one reply of a client-streaming call",
			act: func(_ *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, _ *recorder) {
				f.recv <- nil
				_ = w.RecvMsg(nil)
			},
			wantCause: Reply, wantErr: isNil,
		},
		{
			name: "a server-streaming message is no end", serverStreams: true,
			act: func(_ *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, _ *recorder) {
				f.recv <- nil
				_ = w.RecvMsg(nil)
			},
		},
		{
			name: "SendMsg error",
			act: func(_ *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, _ *recorder) {
				f.sendErr = errSendFailed
				_ = w.SendMsg(nil)
			},
			wantCause: Send, wantErr: is(errSendFailed),
		},
		{
			name: "SendMsg io.EOF is no end: the status comes from RecvMsg",
			act: func(_ *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, _ *recorder) {
				f.sendErr = io.EOF
				_ = w.SendMsg(nil)
			},
		},
		{
			name: "the caller cancels: abandoned",
			act: func(t *testing.T, _ *Stream, _ *fakeStream, cancelCaller context.CancelFunc, r *recorder) {
				cancelCaller()
				r.wait(t)
			},
			wantCause: Caller, wantErr: is(context.Canceled),
		},
		{
			name: "gRPC ends the stream's context with nobody reading",
			act: func(t *testing.T, _ *Stream, f *fakeStream, _ context.CancelFunc, r *recorder) {
				f.finish()
				r.wait(t)
			},
			wantCause: Transport, wantErr: is(context.Canceled),
		},
		{
			name: "gRPC ends the stream's context under a RecvMsg: the RecvMsg reports the status", serverStreams: true,
			act: func(t *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, _ *recorder) {
				done := underCall(t, w, func() { _ = w.RecvMsg(nil) }, f.finish)
				f.recv <- errUnavailable
				within.Recv(t, done, "the RecvMsg did not return")
			},
			wantCause: Recv, wantErr: is(errUnavailable),
		},
		{
			name: "gRPC ends the stream's context under a SendMsg that returns io.EOF: Transport when it returns",
			act: func(t *testing.T, w *Stream, f *fakeStream, _ context.CancelFunc, _ *recorder) {
				f.sendErr, f.sendGo = io.EOF, make(chan struct{})
				done := underCall(t, w, func() { _ = w.SendMsg(nil) }, f.finish)
				close(f.sendGo)
				within.Recv(t, done, "the SendMsg did not return")
				f.sendGo = nil
			},
			wantCause: Transport, wantErr: is(context.Canceled),
		},
		{
			name: "the caller cancels under a RecvMsg: the RecvMsg reports what it returns", serverStreams: true,
			act: func(t *testing.T, w *Stream, f *fakeStream, cancelCaller context.CancelFunc, _ *recorder) {
				done := underCall(t, w, func() { _ = w.RecvMsg(nil) }, cancelCaller)
				f.recv <- status.Error(grpccodes.Canceled, context.Canceled.Error())
				within.Recv(t, done, "the RecvMsg did not return")
			},
			wantCause: Recv, wantErr: func(err error) bool { return status.Code(err) == grpccodes.Canceled },
		},
		{
			name: "the caller cancels under a SendMsg that returns io.EOF: Caller when it returns",
			act: func(t *testing.T, w *Stream, f *fakeStream, cancelCaller context.CancelFunc, _ *recorder) {
				f.sendErr, f.sendGo = io.EOF, make(chan struct{})
				done := underCall(t, w, func() { _ = w.SendMsg(nil) }, cancelCaller)
				close(f.sendGo)
				within.Recv(t, done, "the SendMsg did not return")
				f.sendGo = nil
			},
			wantCause: Caller, wantErr: is(context.Canceled),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := newFake(caller)
			defer f.finish()
			w := Watch(caller, &grpc.StreamDesc{ServerStreams: tt.serverStreams, ClientStreams: true}, f)
			// The stream's context is watched, as once its response started (TestCommit
			// covers the ends before that).
			commitStream(w)
			r, r2 := newRecorder(), newRecorder()
			w.OnEnd(r.f)
			w.OnEnd(r2.f)
			tt.act(t, w, f, cancel, r)
			// Every other path ends too now; none may run the funcs again.
			f.recv <- errUnavailable
			_ = w.RecvMsg(nil)
			f.sendErr = errSendFailed
			_ = w.SendMsg(nil)
			cancel()
			f.finish()
			time.Sleep(5 * time.Millisecond) // Room for a wrong second run from the context's goroutine.
			ends, ends2 := r.snapshot(), r2.snapshot()
			if tt.wantCause == 0 {
				// The first end was one of the closing calls above: Recv.
				if len(ends) != 1 || ends[0].Cause != Recv {
					t.Fatalf("ends = %+v, want the closing RecvMsg's only", ends)
				}
				return
			}
			if len(ends) != 1 || len(ends2) != 1 {
				t.Fatalf("funcs ran %d and %d times, want once each: %+v", len(ends), len(ends2), ends)
			}
			if ends[0] != ends2[0] {
				t.Fatalf("the funcs saw different ends: %+v, %+v", ends[0], ends2[0])
			}
			if ends[0].Cause != tt.wantCause || !tt.wantErr(ends[0].Err) {
				t.Fatalf("end = %v %v, want cause %v", ends[0].Cause, ends[0].Err, tt.wantCause)
			}
			if ends[0].Abandoned() != (tt.wantCause == Caller) {
				t.Fatalf("Abandoned() = %v", ends[0].Abandoned())
			}
		})
	}
}

// commitStream commits w's stream, as gRPC does when its response starts (the first RecvMsg
// or Header returns), by asking for its Context: the stream's context is watched from now on.
func commitStream(w *Stream) { _ = w.Context() }

// underCall runs call (a RecvMsg or SendMsg of w) on a goroutine, waits until it is under
// way, runs end (a context's end), and waits until the context callback has run and left the
// end to the call, which must not have ended the stream yet; it returns the call's done.
func underCall(t *testing.T, w *Stream, call, end func()) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		call()
	}()
	waitFor(t, "the call under way", func() bool { return w.state.Load() == inCall })
	end()
	waitFor(t, "the context callback under the call", func() bool { return w.state.Load()&ctxEnded != 0 })
	if _, ended := w.Ended(); ended {
		t.Error("ended under a running call")
	}
	return done
}

func isNil(err error) bool { return err == nil }

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func TestCallerDeadline(t *testing.T) {
	caller, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	f := newFake(caller)
	r := newRecorder()
	w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, f)
	w.OnEnd(r.f) // Registered after the end may have run: it runs now, or when it does.
	r.wait(t)
	if e := r.snapshot(); len(e) != 1 || e[0].Cause != Caller || !errors.Is(e[0].Err, context.DeadlineExceeded) {
		t.Fatalf("ends = %+v, want one Caller end with DeadlineExceeded", e)
	}
}

func TestOnEndAfterTheEndRunsAtOnce(t *testing.T) {
	f := newFake(context.Background())
	defer f.finish()
	w := Watch(context.Background(), &grpc.StreamDesc{}, f)
	f.recv <- nil
	_ = w.RecvMsg(nil)
	var got End
	w.OnEnd(func(e End) { got = e })
	if got.Cause != Reply {
		t.Fatalf("late func saw %+v, want the Reply end", got)
	}
}

// Ended reports an end only once the funcs registered before it have run: a caller that polls
// Ended (a test waiting for a policy's accounting) then sees what they did.
func TestEndedAfterTheFuncsRan(t *testing.T) {
	f := newFake(context.Background())
	defer f.finish()
	w := Watch(context.Background(), &grpc.StreamDesc{}, f)
	running, release := make(chan struct{}), make(chan struct{})
	w.OnEnd(func(End) {
		close(running)
		<-release
	})
	f.recv <- nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.RecvMsg(nil)
	}()
	within.Recv(t, running, "the func registered with OnEnd did not run")
	if _, ok := w.Ended(); ok {
		t.Error("Ended reports the end while a func registered before it still runs")
	}
	close(release)
	within.Recv(t, done, "the RecvMsg did not return once the func ended")
	if e, ok := w.Ended(); !ok || e.Cause != Reply {
		t.Errorf("Ended() = %+v, %v after the funcs ran; want the Reply end", e, ok)
	}
}

func TestManyFuncsRunInOrder(t *testing.T) {
	f := newFake(context.Background())
	defer f.finish()
	w := Watch(context.Background(), &grpc.StreamDesc{ServerStreams: true}, f)
	var order []int
	for i := range 7 { // More than the inline room.
		w.OnEnd(func(End) { order = append(order, i) })
	}
	f.recv <- io.EOF
	_ = w.RecvMsg(nil)
	if len(order) != 7 {
		t.Fatalf("ran %v", order)
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("order = %v", order)
		}
	}
}

func TestWatchSharesAWrapperPerCaller(t *testing.T) {
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(caller)
	defer f.finish()
	desc := &grpc.StreamDesc{ServerStreams: true}
	inner := Watch(caller, desc, f)
	if outer := Watch(caller, desc, inner); outer != inner {
		t.Fatal("the same caller's context got a second wrapper")
	}
	child, cancelChild := context.WithCancel(caller)
	defer cancelChild()
	other := Watch(child, desc, inner)
	if other == inner {
		t.Fatal("another context shared the wrapper")
	}
	var innerEnd, otherEnd End
	inner.OnEnd(func(e End) { innerEnd = e })
	other.OnEnd(func(e End) { otherEnd = e })
	f.recv <- io.EOF
	_ = other.RecvMsg(nil)
	if innerEnd.Cause != Recv || otherEnd.Cause != Recv {
		t.Fatalf("ends = %+v, %+v, want Recv for both levels", innerEnd, otherEnd)
	}
}

// uncomparableCtx is a context whose type cannot be compared with ==.
type uncomparableCtx struct {
	context.Context
	_ []int
}

func TestWatchUncomparableContext(t *testing.T) {
	caller := uncomparableCtx{Context: context.Background()}
	f := newFake(caller)
	defer f.finish()
	desc := &grpc.StreamDesc{ServerStreams: true}
	inner := Watch(caller, desc, f)
	if outer := Watch(caller, desc, inner); outer == inner {
		t.Fatal("an uncomparable context was taken for the same")
	}
}

// TestConcurrentEnds races every end against the others, and against the commit that moves
// the watch from the caller's context to the stream's; each func must run exactly once.
func TestConcurrentEnds(t *testing.T) {
	for i := range 300 {
		caller, cancel := context.WithCancel(context.Background())
		f := newFake(caller)
		w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, f)
		var n1, n2 atomic.Int32
		w.OnEnd(func(End) { n1.Add(1) })
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(5)
		go func() { defer wg.Done(); <-start; _ = w.Context() }()
		go func() { defer wg.Done(); <-start; f.recv <- errUnavailable; _ = w.RecvMsg(nil) }()
		go func() { defer wg.Done(); <-start; _ = w.SendMsg(nil) }()
		go func() { defer wg.Done(); <-start; w.OnEnd(func(End) { n2.Add(1) }) }()
		go func() {
			defer wg.Done()
			<-start
			if i%2 == 0 {
				cancel()
			} else {
				f.finish()
			}
		}()
		f.sendErr = nil
		close(start)
		within.Wait(t, &wg, "the racing Context, RecvMsg, SendMsg, OnEnd and end did not return")
		cancel()
		f.finish()
		deadline := time.Now().Add(10 * time.Second)
		for (n1.Load() == 0 || n2.Load() == 0) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Millisecond)
		if n1.Load() != 1 || n2.Load() != 1 {
			t.Fatalf("round %d: funcs ran %d and %d times, want once each", i, n1.Load(), n2.Load())
		}
	}
}

// TestAllocs pins what watching costs: the wrapper and the context.AfterFuncs, nothing per
// OnEnd (up to four), per message or per end.
func TestAllocs(t *testing.T) {
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	desc := &grpc.StreamDesc{ServerStreams: true}
	f := newFake(caller)
	defer f.finish()
	nop := func(End) {}
	watch := testing.AllocsPerRun(200, func() {
		w := Watch(caller, desc, f)
		w.OnEnd(nop)
		w.OnEnd(nop)
		w.OnEnd(nop)
		w.OnEnd(nop)
		f.recv <- nil
		_ = w.RecvMsg(nil) // A message: no end.
		f.recv <- io.EOF
		_ = w.RecvMsg(nil) // The end: runs the funcs and stops the callback.
		if Watch(caller, desc, w) != w {
			t.Fatal("not shared")
		}
	})
	// The wrapper and its context callback; then context.AfterFunc's record and stop func
	// twice: on the caller's context from the open, on the stream's once its first message
	// committed it (the caller's stopped). A place among a context's children is reused.
	if watch > 6 {
		t.Fatalf("a watched stream costs %.0f allocations, want at most 6", watch)
	}
	if testing.Verbose() {
		t.Logf("watch: %.0f allocations", watch)
	}
	w := Watch(caller, desc, f)
	defer w.stop()
	msg := testing.AllocsPerRun(200, func() {
		f.recv <- nil
		_ = w.RecvMsg(nil)
		_ = w.SendMsg(nil)
	})
	if msg != 0 {
		t.Fatalf("a message costs %.0f allocations, want 0", msg)
	}
}

// movingStream is a grpc.ClientStream whose Context moves to a new attempt's, as a retrying
// stream's does.
type movingStream struct {
	grpc.ClientStream
	mu   sync.Mutex
	ctx  context.Context
	recv chan error
}

func (m *movingStream) Context() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ctx
}

func (m *movingStream) move(ctx context.Context) {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
}

func (m *movingStream) RecvMsg(any) error { return <-m.recv }

// Regression: a stream whose context moved to a retry's next attempt was taken for ended by
// gRPC when the first attempt's context ended (a deadline over a retrying stream cancelled the
// stream that went on).
func TestContextMovesWithARetry(t *testing.T) {
	for _, reading := range []bool{false, true} {
		t.Run(map[bool]string{false: "nobody reading", true: "under a RecvMsg"}[reading], func(t *testing.T) {
			caller := context.Background()
			a1, end1 := context.WithCancel(caller)
			a2, end2 := context.WithCancel(caller)
			defer end2()
			m := &movingStream{ctx: a1, recv: make(chan error, 4)}
			w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, m)
			commitStream(w)
			r := newRecorder()
			w.OnEnd(r.f)
			done := make(chan struct{})
			if reading {
				go func() {
					defer close(done)
					_ = w.RecvMsg(nil)
				}()
				waitFor(t, "the RecvMsg under way", func() bool { return w.state.Load() == inCall })
			}
			m.move(a2) // The retry opened a second attempt ...
			end1()     // ... and ended the first.
			if reading {
				m.recv <- nil // The second attempt's first message.
				within.Recv(t, done, "the RecvMsg did not return with the second attempt's message")
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				w.mu.Lock()
				moved := w.sctx == a2
				w.mu.Unlock()
				if moved {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the second attempt's context is not watched")
				}
				time.Sleep(time.Millisecond)
			}
			if e, ended := w.Ended(); ended {
				t.Fatalf("ended (%+v) while the stream goes on", e)
			}
			end2() // gRPC ends the second attempt with nobody reading.
			r.wait(t)
			if e := r.snapshot(); len(e) != 1 || e[0].Cause != Transport {
				t.Fatalf("ends = %+v, want one Transport end", e)
			}
		})
	}
}

// TestWatchAllocsPerCaller pins what Watch costs by the caller's context: its wrapper alone for
// one that never ends (context.Background's: no context.AfterFunc, nor the func it would run),
// and for one that can end, the wrapper, the func, and context.AfterFunc's record and stop.
// Each stream ends with its one reply; its context ends after.
func TestWatchAllocsPerCaller(t *testing.T) {
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	desc := &grpc.StreamDesc{}
	e := new(countEnder)
	for _, tt := range []struct {
		name   string
		caller context.Context
		want   float64
	}{
		{"never ends", context.Background(), 1},
		{"cancelable", cancelable, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.caller)
			defer f.finish()
			run := func() {
				w := Watch(tt.caller, desc, f)
				w.OnEndOf(e)
				f.recv <- nil
				if err := w.RecvMsg(nil); err != nil {
					t.Fatal(err)
				}
				if end, ok := w.Ended(); !ok || end.Cause != Reply {
					t.Fatalf("end = %+v, %v; want Reply", end, ok)
				}
			}
			run() // Warm-up: the caller's list of children.
			if got := testing.AllocsPerRun(100, run); got != tt.want {
				t.Fatalf("a stream watched for a caller's context that %s costs %.0f allocations, want %.0f", tt.name, got, tt.want)
			}
		})
	}
}

// countEnder counts the ends it is given, with no allocation.
type countEnder struct{ n atomic.Int32 }

func (c *countEnder) StreamEnded(End) { c.n.Add(1) }

// TestNeverEndingCallerWatchesTheStreamOnceCommitted: a stream whose caller's context never
// ends has no context callback until it is committed; then its context's end is its end
// (Transport), once, and a Context asked for after costs no second callback.
func TestNeverEndingCallerWatchesTheStreamOnceCommitted(t *testing.T) {
	f := newFake(context.Background())
	w := Watch(context.Background(), &grpc.StreamDesc{ServerStreams: true}, f)
	r := newRecorder()
	w.OnEnd(r.f)
	f.recv <- nil
	if err := w.RecvMsg(nil); err != nil { // A message: commits the stream.
		t.Fatal(err)
	}
	if _, ended := w.Ended(); ended {
		t.Fatal("a message ended the stream")
	}
	f.finish() // gRPC ends the stream's context.
	r.wait(t)
	_ = w.Context()
	if ends := r.snapshot(); len(ends) != 1 || ends[0].Cause != Transport || !errors.Is(ends[0].Err, context.Canceled) {
		t.Fatalf("ends = %+v, want one Transport end with context.Canceled", ends)
	}
}
