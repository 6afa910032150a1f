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

// heldSink holds its first AttemptFinished until release is closed, after telling held, and
// then sets out; the others pass.
type heldSink struct {
	rec     *testkit.Recorder
	n       atomic.Int32
	held    chan struct{}
	release chan struct{}
	out     atomic.Bool
}

func (h *heldSink) Observe(e observe.Event) {
	h.rec.Observe(e)
	if e.Kind == observe.AttemptFinished && h.n.Add(1) == 1 {
		close(h.held)
		<-h.release
		h.out.Store(true)
	}
}

// TestReceiveAfterStreamEndedReportsNothing: a receive that fails while StreamEnded (the
// caller's context ended as nobody read) is reporting the stream's attempt neither reports it
// again nor retries it: it returns the attempt's error, once that report is out, so that the
// attempt's AttemptFinished comes before what the caller's end brings (a suite's
// CallFinished). It used to report attempt 1 a second time, racing StreamEnded on the loop's
// state, and went on to decide on a retry; then it returned before the report was out, and a
// stress run saw a CallFinished with no AttemptFinished before it.
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
	type result struct {
		err      error
		reported bool // the held report was out when the receive returned
	}
	done := make(chan result, 1)
	go func() { // the receive streamend did not see
		err := w.ClientStream.RecvMsg(nil)
		done <- result{err, h.out.Load()}
	}()
	// The receive waits for the report: given time to return early (a shorter wait only
	// weakens the check, it cannot fail a receive that waits), it must not.
	select {
	case r := <-done:
		close(h.release)
		t.Fatalf("the receive returned (%v) while StreamEnded's report of its attempt was held, want it to wait for the report", r.err)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.release)
	r := within.Recv(t, done, "the receive, once the report is out")
	rerr := r.err
	if !r.reported {
		t.Error("the receive returned before StreamEnded's AttemptFinished was out")
	}
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
