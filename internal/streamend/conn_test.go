package streamend

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// newConn returns a ClientConn that never connects (nothing dials it), closed at the test's end.
func newConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// listed returns the streams the watcher of cc holds, and whether cc has one.
func listed(cc *grpc.ClientConn) (n int, ok bool) {
	v, ok := conns.Load(cc)
	if !ok {
		return 0, false
	}
	cw := v.(*connWatch)
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for w := cw.head; w != nil; w = w.connNext {
		n++
	}
	return n, true
}

// waitFor polls cond, which a goroutine makes true, for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
	}
}

// TestConnClosedEndsUncommittedStreams: streams that named their ClientConn (WatchConn) and
// that nothing committed (no Header, RecvMsg or Context) end when it shuts down, as gRPC ends
// their contexts (Transport), though their callers' contexts live on; one watcher serves all
// the streams of a ClientConn, holds only the live ones, and goes with the ClientConn.
func TestConnClosedEndsUncommittedStreams(t *testing.T) {
	cc := newConn(t)
	desc := &grpc.StreamDesc{ClientStreams: true}
	var (
		fakes []*fakeStream
		ws    []*Stream
		rs    []*recorder
	)
	for range 3 {
		f := newFake(context.Background())
		w := Watch(context.Background(), desc, f)
		w.WatchConn(cc)
		w.WatchConn(cc) // A second policy names it too: listed once.
		r := newRecorder()
		w.OnEnd(r.f)
		fakes, ws, rs = append(fakes, f), append(ws, w), append(rs, r)
	}
	if n, ok := listed(cc); !ok || n != 3 {
		t.Fatalf("the ClientConn's watcher holds %d streams (watched: %v), want 3", n, ok)
	}
	// One ends before the ClientConn closes: it leaves the list.
	fakes[0].recv <- nil
	if err := ws[0].RecvMsg(nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := listed(cc); n != 2 {
		t.Fatalf("the ClientConn's watcher holds %d streams after one ended, want 2", n)
	}
	for _, f := range fakes {
		if n := f.ctxCalls.Load(); n != 0 {
			t.Fatalf("Context called %d times before the ClientConn closed: the stream was committed", n)
		}
	}

	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range fakes[1:] {
		waitFor(t, "the stream's commit once the ClientConn closed", func() bool { return f.ctxCalls.Load() > 0 })
		f.finish() // gRPC finishes the ClientConn's streams: their contexts end.
	}
	for i, r := range rs[1:] {
		waitFor(t, "the stream's end once the ClientConn closed", func() bool { _, ended := ws[i+1].Ended(); return ended })
		want := End{Err: context.Canceled, Cause: Transport}
		if e := r.snapshot(); len(e) != 1 || e[0] != want {
			t.Fatalf("stream %d: ends = %+v, want [%+v]", i+1, e, want)
		}
	}
	waitFor(t, "the watcher's end with the ClientConn", func() bool { _, ok := listed(cc); return !ok })

	// A stream that names the ClientConn once it has shut down is committed at once.
	f := newFake(context.Background())
	w := Watch(context.Background(), desc, f)
	r := newRecorder()
	w.OnEnd(r.f)
	w.WatchConn(cc)
	waitFor(t, "the commit of a stream naming a closed ClientConn", func() bool { return f.ctxCalls.Load() > 0 })
	f.finish()
	waitFor(t, "the end of a stream naming a closed ClientConn", func() bool { _, ended := w.Ended(); return ended })
	if e := r.snapshot(); len(e) != 1 || e[0].Cause != Transport {
		t.Fatalf("ends = %+v, want one Transport end", e)
	}
	waitFor(t, "the watcher's end with the ClientConn", func() bool { _, ok := listed(cc); return !ok })
}

// sequenceStream is a fakeStream that stands for several of gRPC's streams, as a retry's does:
// its context ends only once it learns that its ClientConn shut down (ConnClosed).
type sequenceStream struct {
	*fakeStream
	told atomic.Int32
}

func (s *sequenceStream) ConnClosed() {
	s.told.Add(1)
	s.finish()
}

// TestConnClosedTellsTheStreamBelow: a stream below that is a ConnCloser is told once when
// the ClientConn shuts down, whether or not the stream was committed (its Context read), so
// that its context ends and the stream with it (Transport); one that ended before is not told.
func TestConnClosedTellsTheStreamBelow(t *testing.T) {
	cc := newConn(t)
	desc := &grpc.StreamDesc{ClientStreams: true}
	var (
		below []*sequenceStream
		ws    []*Stream
		rs    []*recorder
	)
	for i := range 3 {
		s := &sequenceStream{fakeStream: newFake(context.Background())}
		w := Watch(context.Background(), desc, s)
		w.WatchConn(cc)
		r := newRecorder()
		w.OnEnd(r.f)
		if i == 1 {
			_ = w.Context() // committed: its context is watched
		}
		below, ws, rs = append(below, s), append(ws, w), append(rs, r)
	}
	below[2].recv <- io.EOF // ended before the ClientConn closes
	if err := ws[2].RecvMsg(nil); err != io.EOF {
		t.Fatalf("RecvMsg = %v, want io.EOF", err)
	}

	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		waitFor(t, "the stream's end once the ClientConn closed", func() bool { _, ended := ws[i].Ended(); return ended })
		want := End{Err: context.Canceled, Cause: Transport}
		if e := rs[i].snapshot(); len(e) != 1 || e[0] != want {
			t.Errorf("stream %d: ends = %+v, want [%+v]", i, e, want)
		}
	}
	waitFor(t, "the watcher's end with the ClientConn", func() bool { _, ok := listed(cc); return !ok })
	for i, s := range below {
		want := int32(1)
		if i == 2 {
			want = 0
		}
		if n := s.told.Load(); n != want {
			t.Errorf("stream %d: told %d times of the ClientConn's shutdown, want %d", i, n, want)
		}
	}
}

// TestConnDone: ConnDone's channel is one per ClientConn, made with its watcher on first use,
// and closed when the ClientConn shuts down, after the streams that named it were told; the
// watcher then goes, and a ConnDone asked after the shutdown is closed at once. A nil
// ClientConn has none (a nil channel, which never closes).
func TestConnDone(t *testing.T) {
	if ConnDone(nil) != nil {
		t.Fatal("ConnDone(nil) is not nil")
	}
	cc := newConn(t)
	if _, ok := listed(cc); ok {
		t.Fatal("a watcher before anything asked for one")
	}
	done := ConnDone(cc)
	if again := ConnDone(cc); again != done {
		t.Fatal("two ConnDone channels for one ClientConn")
	}
	f := newFake(context.Background())
	w := Watch(context.Background(), &grpc.StreamDesc{ClientStreams: true}, f)
	w.WatchConn(cc)
	select {
	case <-done:
		t.Fatal("ConnDone closed before the ClientConn")
	default:
	}
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ConnDone not closed 10s after the ClientConn")
	}
	if f.ctxCalls.Load() == 0 {
		t.Fatal("ConnDone closed before the stream that named the ClientConn was told")
	}
	f.finish()
	waitFor(t, "the watcher's end with the ClientConn", func() bool { _, ok := listed(cc); return !ok })
	select {
	case <-ConnDone(cc):
	case <-time.After(10 * time.Second):
		t.Fatal("ConnDone of a ClientConn shut down not closed")
	}
	waitFor(t, "the watcher's end with the ClientConn", func() bool { _, ok := listed(cc); return !ok })
}
