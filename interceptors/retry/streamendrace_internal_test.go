package retry

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// attemptsReported returns how many AttemptFinished events rec holds for each attempt number.
func attemptsReported(rec *testkit.Recorder) map[int]int {
	n := map[int]int{}
	for _, e := range rec.Events(observe.AttemptFinished) {
		n[e.Attempt]++
	}
	return n
}

// TestStreamEndedDuringARetryLeavesTheAttemptToTheLoop: a stream's Caller end that streamend
// saw just before the caller's RecvMsg began (its look for a call under way came first), and
// whose StreamEnded runs only once that receive has failed and the retry loop has reported the
// attempt and decided on a retry, reports nothing: the loop has the attempt. It used to report
// attempt 1 a second time, racing the loop on its state (loop.finished against loop.next).
func TestStreamEndedDuringARetryLeavesTheAttemptToTheLoop(t *testing.T) {
	rec := &testkit.Recorder{}
	p, err := New(Config{
		MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Multiplier: 1,
		Jitter: JitterNone, Idempotent: true,
	}, WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hooked := 0
	testHookBeforeRetryOpen = func(s *retryStream) {
		hooked++
		if hooked == 1 {
			cancel()
			s.StreamEnded(streamend.End{Err: context.Canceled, Cause: streamend.Caller})
		}
	}
	t.Cleanup(func() { testHookBeforeRetryOpen = nil })
	opened := 0
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened++
		if err := ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err() // as gRPC's NewStream
		}
		return failingStream{ctx}, nil
	}
	cs, err := p.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, "/test.v1.S/Do", streamer)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(nil); err == nil {
		t.Fatal("RecvMsg = nil, want the stream's end")
	}
	// Each request made (a streamer call: the second one, after the cancel, fails at once, as
	// gRPC's does) is reported once: attempt 1 Unavailable, attempt 2 Canceled.
	e := rec.Events(observe.AttemptFinished)
	if len(e) != opened || len(e) == 0 || e[0].Attempt != 1 || e[0].Code != grpccodes.Unavailable {
		t.Errorf("%d attempts reported after %d requests made (%v); want each once, attempt 1 Unavailable", len(e), opened, attemptsReported(rec))
	}
	for a, k := range attemptsReported(rec) {
		if k != 1 {
			t.Errorf("attempt %d reported %d times; want once", a, k)
		}
	}
}

// heldSink holds its first AttemptFinished until release is closed, after telling held; the
// others pass.
type heldSink struct {
	rec     *testkit.Recorder
	n       atomic.Int32
	held    chan struct{}
	release chan struct{}
}

func (h *heldSink) Observe(e observe.Event) {
	h.rec.Observe(e)
	if e.Kind == observe.AttemptFinished && h.n.Add(1) == 1 {
		close(h.held)
		<-h.release
	}
}

// TestReceiveAfterStreamEndedReportsNothing: a receive that fails while StreamEnded (the
// caller's context ended as nobody read) is reporting the stream's attempt neither reports it
// again nor retries it: it returns the attempt's error. It used to report attempt 1 a second
// time, racing StreamEnded on the loop's state, and went on to decide on a retry.
func TestReceiveAfterStreamEndedReportsNothing(t *testing.T) {
	h := &heldSink{rec: &testkit.Recorder{}, held: make(chan struct{}), release: make(chan struct{})}
	p, err := New(Config{
		MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Multiplier: 1,
		Jitter: JitterNone, Idempotent: true,
	}, WithObserver(h))
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened++
		return testkit.NewScriptedStream(ctx, true), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := p.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, "/test.v1.S/Do", streamer)
	if err != nil {
		t.Fatal(err)
	}
	w := cs.(*streamend.Stream)
	cancel() // streamend's Caller end: StreamEnded reports attempt 1, held in the sink
	within.Recv(t, h.held, "StreamEnded's report of attempt 1")
	done := make(chan error, 1)
	go func() { done <- w.ClientStream.RecvMsg(nil) }() // the receive streamend did not see
	var rerr error
	select {
	case rerr = <-done:
	case <-time.After(10 * time.Second):
		close(h.release)
		t.Fatal("the receive did not return while StreamEnded reported")
	}
	close(h.release)
	testkit.Eventually(t, "StreamEnded done", func() bool {
		_, ran := w.Ended()
		return ran
	})
	if status.Code(rerr) != grpccodes.Canceled {
		t.Errorf("RecvMsg = %v, want the attempt's Canceled", rerr)
	}
	if n := attemptsReported(h.rec); len(n) != 1 || n[1] != 1 || opened != 1 {
		t.Errorf("attempts reported %v after %d opened; want attempt 1 once, one opened", n, opened)
	}
	if n := h.rec.Count(observe.RetryScheduled); n != 0 {
		t.Errorf("%d retries scheduled, want none", n)
	}
}
