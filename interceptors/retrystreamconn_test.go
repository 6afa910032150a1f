package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
)

// TestRetryStreamUncommittedConnClosed: through a suite with a deadline, a time budget, a
// retry step and a bulkhead, a client stream whose caller sends a frame but neither reads it
// (no Header or RecvMsg: the retry stream has not committed; the caller may have read the
// stream's Context, which commits gRPC's stream, not the retry's) nor cancels its context,
// and then closes the ClientConn, which gRPC counts as releasing the stream, ends: its attempt
// is reported once (AttemptFinished, attempt 1, Canceled as gRPC reports a closed ClientConn),
// no call is reported (an end nobody read), and the deadline's and the budget's timers are
// stopped, with no goroutine left, while the caller's context lives on. It used to stay held
// until the caller's context ended: the retry stream's context ended only with an attempt it
// had committed to.
func TestRetryStreamUncommittedConnClosed(t *testing.T) {
	for _, readCtx := range []bool{false, true} {
		t.Run(map[bool]string{false: "nothing read", true: "Context read"}[readCtx], func(t *testing.T) {
			testRetryStreamUncommittedConnClosed(t, readCtx)
		})
	}
}

func testRetryStreamUncommittedConnClosed(t *testing.T, readCtx bool) {
	clk := clocktest.New(time.Now())
	srv := testkit.Start(t, &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
		<-st.Context().Done() // until the client goes
		return st.Context().Err()
	}})
	cfg := &config.Config{
		Budget: time.Hour,
		Profiles: map[string]config.Profile{"p": {
			Retry:    quickRetry(3),
			Deadline: &deadline.Config{Default: 2 * time.Hour},
			Bulkhead: &bulkhead.Config{MaxConcurrent: 1},
		}},
		Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	cc := srv.Dial(t, s.DialOptions()...)
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := kycv1.NewLivenessServiceClient(cc).Check(caller)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	var sctx context.Context
	if readCtx {
		sctx = st.Context()
	}
	testkit.Eventually(t, "the server's call", func() bool { return srv.Calls(testkit.MethodCheck) == 1 })
	if n := clk.Timers(); n == 0 {
		t.Fatal("no timer on the fake clock for the stream's deadline and budget")
	}

	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the stream's attempt reported once the ClientConn closed", func() bool {
		return rec.Count(observe.AttemptFinished) > 0
	})
	testkit.Eventually(t, "the deadline's and the budget's timers stopped", func() bool { return clk.Timers() == 0 })
	if sctx != nil && sctx.Err() == nil {
		t.Error("the stream's Context lives on after the stream's end")
	}
	srv.Stop()
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/bulwarkrpc/bulwark/internal/testkit.Start.func1"))
	if caller.Err() != nil {
		t.Fatal("the caller's context ended")
	}
	atts := rec.Events(observe.AttemptFinished)
	if len(atts) != 1 || atts[0].Method != testkit.MethodCheck || atts[0].Attempt != 1 || atts[0].Code != grpccodes.Canceled {
		t.Fatalf("AttemptFinished %+v, want one: attempt 1 of Check, Canceled", atts)
	}
	if calls := rec.Events(observe.CallFinished); len(calls) != 0 {
		t.Fatalf("CallFinished %+v, want none for a stream that ended unread", calls)
	}
}
