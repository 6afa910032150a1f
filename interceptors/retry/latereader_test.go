package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// firedClock is a fake clock that tells, on fired, each time a func of its AfterFunc (a stream
// attempt's per-attempt timeout) has returned.
type firedClock struct {
	*clocktest.Fake
	fired chan struct{}
}

func (c *firedClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.Fake.AfterFunc(d, func() {
		f()
		c.fired <- struct{}{}
	})
}

// newFiredSetup is newSetup (its recorder, and its driver through the backoff sleeps) whose
// policy runs on a firedClock over the setup's fake clock.
func newFiredSetup(t *testing.T, cfg retry.Config) (*setup, *firedClock) {
	t.Helper()
	s := newSetup(t, cfg, 0)
	clk := &firedClock{Fake: s.clk, fired: make(chan struct{}, 8)}
	p, err := retry.New(cfg, retry.WithClock(clk), retry.WithRand(seq(0.5)),
		retry.WithObserver(observe.Multi(s.rec, s.drv)))
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	return s, clk
}

// goroutinesIn is how many goroutines have a frame of each of fns on their stack.
func goroutinesIn(fns ...string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		in := true
		for _, fn := range fns {
			in = in && strings.Contains(g, fn)
		}
		if in {
			n++
		}
	}
	return n
}

// lateReader is a stream of listMethod, or of its bidi variant, through the retry policy with a
// 100ms per-attempt timeout on a firedClock, over a real gRPC server on bufconn.
type lateReader struct {
	s     *setup
	clk   *firedClock
	st    grpc.ClientStream
	calls chan int // the server's calls, as each starts
}

func newLateReader(t *testing.T, desc *grpc.StreamDesc, handler func(call int, st grpc.ServerStream) error) *lateReader {
	t.Helper()
	l := &lateReader{calls: make(chan int, 8)}
	var calls atomic.Int32
	cc := startLister(t, func(_ any, st grpc.ServerStream) error {
		n := int(calls.Add(1))
		l.calls <- n
		return handler(n, st)
	})
	cfg := retry.Config{
		Jitter: retry.JitterNone, Idempotent: true, InitialBackoff: time.Millisecond,
		PerAttemptTimeout: 100 * time.Millisecond,
	}
	l.s, l.clk = newFiredSetup(t, cfg)
	p := l.s.p
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var err error
	l.st, err = p.Stream()(ctx, desc, cc, listMethod,
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return cc.NewStream(ctx, desc, method, opts...)
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.st.SendMsg(&kycv1.CheckRequest{Index: 7}); err != nil {
		t.Fatal(err)
	}
	return l
}

// timeOut passes the first attempt's per-attempt timeout and waits for its timer's func to
// return; answered: once the attempt's header watcher, if any, is done (the server's header
// has come).
func (l *lateReader) timeOut(t *testing.T, answered bool) {
	t.Helper()
	if answered {
		testkit.Eventually(t, "the attempt's header watched", func() bool {
			return goroutinesIn("retry.(*attemptTimeout).watchHeader") == 0
		})
	}
	l.clk.Advance(100 * time.Millisecond)
	select {
	case <-l.clk.fired:
	case <-time.After(10 * time.Second):
		t.Fatal("the per-attempt timeout did not fire")
	}
}

// readAll reads the stream to its end: the replies' indexes, and the error that ended it.
func (l *lateReader) readAll() ([]uint32, error) {
	var got []uint32
	for {
		m := new(kycv1.CheckResponse)
		if err := l.st.RecvMsg(m); err != nil {
			return got, err
		}
		got = append(got, m.GetFramesAnalyzed())
	}
}

func sendThree(st grpc.ServerStream) error {
	for i := range 3 {
		if err := st.SendMsg(&kycv1.CheckResponse{FramesAnalyzed: uint32(i)}); err != nil {
			return err
		}
	}
	return nil
}

// checkRead checks that the stream read replies 0, 1 and 2, then io.EOF, over want attempts.
func (l *lateReader) checkRead(t *testing.T, want int) {
	t.Helper()
	got, err := l.readAll()
	if !errors.Is(err, io.EOF) || len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Errorf("the stream read %v, then %v; want [0 1 2], then io.EOF", got, err)
	}
	if n := l.s.rec.Count(observe.AttemptFinished); n != want {
		t.Errorf("%d attempts reported, want %d", n, want)
	}
	if n := len(l.calls); n != want-1 { // the first was taken
		t.Errorf("the server saw %d calls, want %d", n+1, want)
	}
}

// TestLateReaderKeepsAnAnsweredServerStream: a server stream whose server sent its replies at
// once, and whose caller reads them only after the per-attempt timeout has passed, reads all
// of them and the stream's clean end, from its one attempt: the timer found the attempt
// answered (its header came) and nobody receiving, and committed the stream to it. It used to
// end the attempt, the server's stream cut, and the caller lost the replies the server was
// still to send, or read them from a second call.
func TestLateReaderKeepsAnAnsweredServerStream(t *testing.T) {
	sent, proceed := make(chan struct{}, 8), make(chan struct{})
	l := newLateReader(t, listDesc, func(_ int, st grpc.ServerStream) error {
		if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
			return err
		}
		if err := sendThree(st); err != nil {
			return err
		}
		sent <- struct{}{}
		select { // the stream ends when the test says, or the client ends it
		case <-proceed:
			return nil
		case <-st.Context().Done():
			return st.Context().Err()
		}
	})
	if err := l.st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	<-l.calls
	<-sent
	l.timeOut(t, true)
	close(proceed)
	l.checkRead(t, 1)
	if e := l.s.rec.Events(observe.AttemptFinished); len(e) == 1 && e[0].Code != grpccodes.OK {
		t.Errorf("the attempt reported %v, want OK", e[0].Code)
	}
}

// TestLateReaderBidiKeepsAnAnsweredStream is TestLateReaderKeepsAnAnsweredServerStream for a
// bidi stream, whose caller closes its send side only after the timeout.
func TestLateReaderBidiKeepsAnAnsweredStream(t *testing.T) {
	sent := make(chan struct{}, 8)
	l := newLateReader(t, &grpc.StreamDesc{StreamName: "List", ServerStreams: true, ClientStreams: true},
		func(_ int, st grpc.ServerStream) error {
			if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
				return err
			}
			if err := sendThree(st); err != nil {
				return err
			}
			sent <- struct{}{}
			for { // until the client closes its send side, or ends the stream
				if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		})
	<-l.calls
	<-sent
	l.timeOut(t, true)
	if err := l.st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	l.checkRead(t, 1)
}

// TestLateReaderHeaderlessAttemptIsRetried: a server stream whose server has sent nothing (no
// header) when the per-attempt timeout passes is ended and retried, as before: its caller reads
// the second attempt's replies.
func TestLateReaderHeaderlessAttemptIsRetried(t *testing.T) {
	l := newLateReader(t, listDesc, func(call int, st grpc.ServerStream) error {
		if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
			return err
		}
		if call == 1 {
			<-st.Context().Done() // silent until the client ends it
			return st.Context().Err()
		}
		return sendThree(st)
	})
	if err := l.st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	<-l.calls
	l.timeOut(t, false)
	l.checkRead(t, 2)
	if e := l.s.rec.Events(observe.AttemptFinished); len(e) == 2 && e[0].Code != grpccodes.DeadlineExceeded {
		t.Errorf("attempt 1 reported %v, want DeadlineExceeded", e[0].Code)
	}
}

// TestWaitingReaderOfAHeaderOnlyAttemptRetries: a server stream whose server sent its header at
// once and then nothing, while its caller waits in RecvMsg, is ended at the per-attempt timeout
// and retried, as before: a receive under way means the server, not the caller, is late. (Had
// the timer committed to every attempt whose header came, the caller would wait on for the
// first server's silence.)
func TestWaitingReaderOfAHeaderOnlyAttemptRetries(t *testing.T) {
	l := newLateReader(t, listDesc, func(call int, st grpc.ServerStream) error {
		if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
			return err
		}
		if call == 1 {
			if err := st.SendHeader(metadata.Pairs("k", "v")); err != nil {
				return err
			}
			<-st.Context().Done() // silent until the client ends it
			return st.Context().Err()
		}
		return sendThree(st)
	})
	if err := l.st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	<-l.calls
	type result struct {
		got []uint32
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := l.readAll()
		done <- result{got, err}
	}()
	testkit.Eventually(t, "the caller receiving on the attempt", func() bool {
		return goroutinesIn("retry.(*retryStream).RecvMsg", "grpc.(*clientStream).RecvMsg") == 1
	})
	l.timeOut(t, true)
	r := <-done
	if !errors.Is(r.err, io.EOF) || len(r.got) != 3 {
		t.Errorf("the stream read %v, then %v; want 3 replies, then io.EOF", r.got, r.err)
	}
	if e := l.s.rec.Events(observe.AttemptFinished); len(e) != 2 || e[0].Code != grpccodes.DeadlineExceeded {
		t.Errorf("attempts reported %+v, want 2, the first DeadlineExceeded", e)
	}
}

// TestHeaderWatcherPanicEndsTheStream: when the attempt's Header panics in the goroutine that
// watches it for the per-attempt timeout (a server stream), the panic, which has no caller to
// go on to, is recovered there: the stream ends for good as when its caller's Header panics,
// what it holds released (the attempt's context and timer, the budget's), the attempt not
// reported, and the caller's calls return Internal.
func TestHeaderWatcherPanicEndsTheStream(t *testing.T) {
	clk := clocktest.New(time.Now())
	rec := &testkit.Recorder{}
	p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
		retry.WithClock(clk), retry.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan context.Context, 1)
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened <- ctx
		return headerPanicking{testkit.NewScriptedStream(ctx, true)}, nil
	}
	cs, err := p.Stream()(context.Background(), listDesc, nil, listMethod, streamer)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-(<-opened).Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the attempt's context lives on after its Header panicked")
	}
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Internal || !strings.Contains(err.Error(), "header panicked") {
		t.Errorf("RecvMsg = %v, want Internal: the attempt's header panicked", err)
	}
	if md, err := cs.Header(); md != nil || status.Code(err) != grpccodes.Internal {
		t.Errorf("Header = %v, %v, want nil, Internal", md, err)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers left, want none: the attempt's and the budget's stopped", n)
	}
	if n := rec.Count(observe.AttemptFinished); n != 0 {
		t.Errorf("%d attempts reported, want none: a panicking attempt is not reported", n)
	}
	if len(opened) != 0 {
		t.Error("the stream opened another attempt")
	}
}

// heldClock is a fake clock whose AfterFunc timers, when they fire, hand their func to the test
// on due instead of running it: the test runs it when it likes, as a timer's goroutine that the
// scheduler runs late, after a Stop that found the timer fired already.
type heldClock struct {
	*clocktest.Fake
	due chan func()
}

func (c *heldClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.Fake.AfterFunc(d, func() { c.due <- f })
}

// TestLateTimerLeavesACommittedStream: a per-attempt timeout whose func runs only after the
// stream committed to its attempt (its first reply read as the timer fired: the commit's Stop
// of the timer came too late) leaves the attempt be: the caller reads the rest of the replies
// and the stream's clean end. It used to end the attempt the stream had committed to, whose
// later replies the caller lost to DeadlineExceeded, never retried.
func TestLateTimerLeavesACommittedStream(t *testing.T) {
	proceed := make(chan struct{})
	cc := startLister(t, func(_ any, st grpc.ServerStream) error {
		if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
			return err
		}
		if err := sendThree(st); err != nil {
			return err
		}
		select {
		case <-proceed:
			return nil
		case <-st.Context().Done():
			return st.Context().Err()
		}
	})
	clk := &heldClock{Fake: clocktest.New(time.Now()), due: make(chan func(), 4)}
	rec := &testkit.Recorder{}
	p, err := retry.New(retry.Config{Idempotent: true, PerAttemptTimeout: 100 * time.Millisecond},
		retry.WithClock(clk), retry.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := p.Stream()(context.Background(), listDesc, cc, listMethod,
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return cc.NewStream(ctx, desc, method, opts...)
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(&kycv1.CheckRequest{Index: 7}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * time.Millisecond) // the timer fires; its func waits
	fire := <-clk.due
	m := new(kycv1.CheckResponse)
	if err := cs.RecvMsg(m); err != nil || m.GetFramesAnalyzed() != 0 {
		t.Fatalf("RecvMsg = %v, reply %d; want reply 0", err, m.GetFramesAnalyzed())
	}
	fire() // late: the stream has committed
	close(proceed)
	var got []uint32
	for {
		m := new(kycv1.CheckResponse)
		if err = cs.RecvMsg(m); err != nil {
			break
		}
		got = append(got, m.GetFramesAnalyzed())
	}
	if !errors.Is(err, io.EOF) || len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("the stream read %v after reply 0, then %v; want [1 2], then io.EOF", got, err)
	}
	if e := rec.Events(observe.AttemptFinished); len(e) != 1 || e[0].Code != grpccodes.OK {
		t.Errorf("attempts reported %+v, want one, OK", e)
	}
}

// watchedStream is a server stream attempt whose Header waits for its header (header closed)
// or its end, and which records a RecvMsg or Header of it entered while a Header of it runs:
// gRPC's own stream does not make them safe beside each other (with binary logging on, each
// reads and sets its record of the logged header unlocked). Its one RecvMsg ends it cleanly.
type watchedStream struct {
	ctx      context.Context
	header   chan struct{}
	inHeader atomic.Int32
	recvs    atomic.Int32
	overlap  atomic.Bool
}

func (s *watchedStream) Header() (metadata.MD, error) {
	if s.inHeader.Add(1) > 1 {
		s.overlap.Store(true)
	}
	defer s.inHeader.Add(-1)
	select {
	case <-s.header:
		return metadata.Pairs("k", "v"), nil
	case <-s.ctx.Done():
		return nil, nil
	}
}

func (s *watchedStream) RecvMsg(any) error {
	if s.inHeader.Load() > 0 {
		s.overlap.Store(true)
	}
	s.recvs.Add(1)
	select {
	case <-s.header:
		return io.EOF
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *watchedStream) Trailer() metadata.MD     { return nil }
func (s *watchedStream) CloseSend() error         { return nil }
func (s *watchedStream) SendMsg(any) error        { return nil }
func (s *watchedStream) Context() context.Context { return s.ctx }

// TestCallerWaitsForTheHeaderWatcher: the caller's RecvMsg, or Header, on a server stream
// attempt whose header the per-attempt timeout's watcher is reading waits until the watcher's
// Header has returned, and never runs beside it: gRPC's stream does not make them safe
// together, and with binary logging on (GRPC_BINARY_LOG_FILTER) the race detector caught the
// watcher's Header writing what the caller's RecvMsg read.
func TestCallerWaitsForTheHeaderWatcher(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string // the caller's, waiting for the watcher
		call  func(grpc.ClientStream) error
	}{
		{"RecvMsg", "retry.(*retryStream).RecvMsg", func(cs grpc.ClientStream) error {
			if err := cs.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
				return fmt.Errorf("RecvMsg = %w, want io.EOF", err)
			}
			return nil
		}},
		{"Header", "retry.(*retryStream).Header", func(cs grpc.ClientStream) error {
			if md, err := cs.Header(); err != nil || md.Get("k") == nil {
				return fmt.Errorf("Header = %v, %w, want k: v", md, err)
			}
			if err := cs.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
				return fmt.Errorf("RecvMsg after Header = %w, want io.EOF", err)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := retry.New(retry.Config{MaxAttempts: 2, Idempotent: true, PerAttemptTimeout: 5 * time.Second},
				retry.WithClock(clocktest.New(time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			var st *watchedStream
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				st = &watchedStream{ctx: ctx, header: make(chan struct{})}
				return st, nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cs, err := p.Stream()(ctx, listDesc, nil, listMethod, streamer)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(&kycv1.CheckRequest{Index: 1}); err != nil {
				t.Fatal(err)
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "the watcher in the attempt's Header", func() bool { return st.inHeader.Load() == 1 })
			done := make(chan error, 1)
			go func() { done <- tc.call(cs) }()
			// Either the caller's call reached the attempt beside the watcher, or it waits.
			testkit.Eventually(t, "the caller's call at the attempt, or waiting", func() bool {
				return st.inHeader.Load() > 1 || st.recvs.Load() > 0 ||
					goroutinesIn(tc.frame, "sync.(*Cond).Wait") == 1
			})
			close(st.header)
			if err := <-done; err != nil {
				t.Error(err)
			}
			if st.overlap.Load() {
				t.Errorf("the caller's %s ran on the attempt beside the watcher's Header", tc.name)
			}
		})
	}
}
