package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
)

// TestStreamUncommittedConnClosed: with the retry stream interceptor alone, two client streams
// that their caller has not committed (a frame sent, no Header or RecvMsg; the second's Context
// read, which does not commit the retry stream) end when the caller closes their ClientConn,
// though their callers' contexts live on: each one's attempt is reported once, as gRPC ended
// it (Canceled), none is retried, their contexts end, and the budget's and the per-attempt
// timers are stopped. They used to stay held until the callers' contexts ended: the retry
// stream's context ended only with an attempt it had committed to.
func TestStreamUncommittedConnClosed(t *testing.T) {
	s := newSetup(t, retry.Config{
		MaxAttempts: 3, Idempotent: true, Budget: time.Hour, PerAttemptTimeout: 30 * time.Minute,
		InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Jitter: retry.JitterNone,
	}, -1)
	srv := testkit.Start(t, &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
		<-st.Context().Done() // until the client goes
		return st.Context().Err()
	}})
	cc := s.dial(t, srv)
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ctxs []context.Context
	for i := range 2 {
		st, err := kycv1.NewLivenessServiceClient(cc).Check(caller)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&kycv1.CheckRequest{Index: 0}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			ctxs = append(ctxs, st.Context())
		}
	}
	testkit.Eventually(t, "the server's calls", func() bool { return srv.Calls(testkit.MethodCheck) == 2 })
	if n := s.clk.Timers(); n != 4 {
		t.Fatalf("%d timers on the fake clock, want 4: each stream's budget and attempt timeout", n)
	}

	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "both streams' attempts reported once the ClientConn closed", func() bool {
		return s.rec.Count(observe.AttemptFinished) == 2
	})
	testkit.Eventually(t, "the budgets' and the attempts' timers stopped", func() bool { return s.clk.Timers() == 0 })
	for _, c := range ctxs {
		if c.Err() == nil {
			t.Error("the stream's Context lives on after the stream's end")
		}
	}
	if caller.Err() != nil {
		t.Fatal("the caller's context ended")
	}
	for _, e := range s.rec.Events(observe.AttemptFinished) {
		if e.Attempt != 1 || e.Code != grpccodes.Canceled {
			t.Errorf("AttemptFinished %+v, want attempt 1, Canceled", e)
		}
	}
	if n := s.rec.Count(observe.RetryScheduled); n != 0 {
		t.Errorf("%d RetryScheduled, want none: a closed ClientConn retries nothing", n)
	}
	if n := srv.Calls(testkit.MethodCheck); n != 2 {
		t.Errorf("the server saw %d calls, want 2", n)
	}
}
