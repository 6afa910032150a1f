package retry_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// timedOutReply is a server stream through the retry policy with a 100ms per-attempt timeout on
// a firedClock, whose first attempt is a testkit.BufferedStream with reply 0 buffered and its header
// held from the watcher, and whose later attempts answer replies 0, 1 and 2, then io.EOF.
type timedOutReply struct {
	s      *setup
	clk    *firedClock
	st     grpc.ClientStream
	opened chan int
}

func newTimedOutReply(t *testing.T) *timedOutReply {
	t.Helper()
	r := &timedOutReply{opened: make(chan int, 8)}
	cfg := retry.Config{
		Jitter: retry.JitterNone, Idempotent: true, InitialBackoff: time.Millisecond,
		PerAttemptTimeout: 100 * time.Millisecond,
	}
	r.s, r.clk = newFiredSetup(t, cfg)
	p := r.s.p
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	n := 0
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		n++
		r.opened <- n
		if n == 1 {
			return testkit.NewBufferedStream(ctx, true, false, 0), nil
		}
		return testkit.NewBufferedStream(ctx, false, true, 0, 1, 2), nil
	}
	var err error
	r.st, err = p.Stream()(ctx, listDesc, nil, listMethod, streamer)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.SendMsg(&kycv1.CheckRequest{Index: 7}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	// The timer fires with nobody receiving and the header not seen: the attempt ends.
	r.clk.Advance(100 * time.Millisecond)
	select {
	case <-r.clk.fired:
	case <-time.After(10 * time.Second):
		t.Fatal("the per-attempt timeout did not fire")
	}
	return r
}

// check checks that the caller read replies 0, 1 and 2, then io.EOF, after attempt 1 reported
// DeadlineExceeded and attempt 2 OK.
func (r *timedOutReply) check(t *testing.T) {
	t.Helper()
	var got []uint32
	var err error
	for {
		m := new(kycv1.CheckResponse)
		if err = r.st.RecvMsg(m); err != nil {
			break
		}
		got = append(got, m.GetFramesAnalyzed())
	}
	if !errors.Is(err, io.EOF) || len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Errorf("the stream read %v, then %v; want [0 1 2], then io.EOF", got, err)
	}
	e := r.s.rec.Events(observe.AttemptFinished)
	if len(e) != 2 || e[0].Code != grpccodes.DeadlineExceeded || e[1].Code != grpccodes.OK {
		t.Errorf("attempts reported %+v; want 2, the first DeadlineExceeded, the second OK", e)
	}
	if len(r.opened) != 2 {
		t.Errorf("%d attempts opened, want 2", len(r.opened))
	}
}

// TestTimedOutAttemptsBufferedReplyIsRetried: a server stream whose per-attempt timeout ended
// its attempt before the header's watcher had seen the header (a busy machine), while gRPC had
// a reply of it buffered, does not hand that reply to the caller, whose RecvMsg finds the
// attempt timed out and retries it: the caller reads the whole stream of the next attempt. It
// used to commit the stream to the ended attempt with its buffered reply, and the caller lost
// the rest of the stream to DeadlineExceeded, never retried.
func TestTimedOutAttemptsBufferedReplyIsRetried(t *testing.T) {
	r := newTimedOutReply(t)
	r.check(t)
}

// TestTimedOutAttemptsHeaderIsRetried is TestTimedOutAttemptsBufferedReplyIsRetried for a
// caller that reads the header first: the header gRPC hands over from the ended attempt does
// not commit the stream; Header retries the attempt and returns the next one's header.
func TestTimedOutAttemptsHeaderIsRetried(t *testing.T) {
	r := newTimedOutReply(t)
	md, err := r.st.Header()
	if err != nil || md.Get("k") == nil {
		t.Fatalf("Header = %v, %v; want the header", md, err)
	}
	if n := len(r.opened); n != 2 {
		t.Errorf("Header returned with %d attempts opened, want 2: the ended attempt retried", n)
	}
	r.check(t)
}
