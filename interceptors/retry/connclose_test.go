package retry_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sleepyConfig retries after a backoff of an hour, which nothing in these tests advances.
var sleepyConfig = retry.Config{
	MaxAttempts: 3, Idempotent: true, InitialBackoff: time.Hour, MaxBackoff: time.Hour,
	Jitter: retry.JitterNone,
}

// sleeping is the ConnWait of call, parked in a backoff sleep of an hour after its first
// attempt once s's fake clock holds timers timers (the sleep's and any other the call keeps).
// Its Unpark moves the clock past the sleep, so that the call ends and leaks nothing.
func sleeping(t *testing.T, s *setup, timers int, call func() error) testkit.ConnWait {
	return testkit.ConnWait{
		What: "the call sleeping before a retry", Over: "its 1h sleep was over",
		Call: call,
		Parked: func() {
			testkit.Eventually(t, "the retry's backoff", func() bool { return s.rec.Count(observe.RetryScheduled) == 1 })
			s.clk.BlockUntil(timers)
		},
		Unpark: func() { s.clk.Advance(2 * time.Hour) },
	}
}

// wantClosing checks err, what a call whose backoff sleep ClientConn.Close cut short returns.
func wantClosing(t *testing.T, err error) {
	t.Helper()
	if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") {
		t.Fatalf("err = %v, want Canceled, the client connection is closing", err)
	}
}

// TestUnaryBackoffEndsAtConnClose: a unary call sleeping in its backoff (an hour on a fake
// clock nothing advances) when its ClientConn shuts down returns at once, Canceled with the
// words of a closing ClientConn, as gRPC ends the calls it holds: no attempt is sent after the
// shutdown, its Report says Canceled after one attempt, no RetriesExhausted is sent (the call
// did not run out of retries: it ended, as one its caller cancels), and the sleep's timer is
// stopped. It used to sleep its whole backoff, then send an attempt that failed at once.
func TestUnaryBackoffEndsAtConnClose(t *testing.T) {
	s := newSetup(t, sleepyConfig, -1)
	srv := testkit.Start(t, &testkit.Server{CompareF: always(testkit.Status(grpccodes.Unavailable, ""))})
	cc := s.dial(t, srv)
	var info retry.Info
	wantClosing(t, sleeping(t, s, 1, func() error {
		_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info))
		return err
	}).Start().CloseConn(t, cc))
	if n := srv.Calls(testkit.MethodCompare); n != 1 {
		t.Errorf("the server saw %d calls, want 1", n)
	}
	if info.Attempts != 1 || info.Code != grpccodes.Canceled || info.Reason != "" {
		t.Errorf("Report = %+v, want 1 attempt, Canceled, no reason", info)
	}
	if evs := s.rec.Events(observe.AttemptFinished); len(evs) != 1 || evs[0].Code != grpccodes.Unavailable {
		t.Errorf("AttemptFinished = %+v, want one, Unavailable", evs)
	}
	if n := s.rec.Count(observe.RetriesExhausted); n != 0 {
		t.Errorf("%d RetriesExhausted, want none", n)
	}
	if n := s.clk.Timers(); n != 0 {
		t.Errorf("%d timers left on the fake clock, want 0", n)
	}
}

// TestStreamBackoffEndsAtConnClose: a client stream whose receive sleeps in a retry's backoff
// (its attempt failed before it committed) when its ClientConn shuts down returns at once,
// Canceled with the words of a closing ClientConn: no attempt is opened after the shutdown,
// the attempt that failed is reported once, and the sleep's timer is stopped with the
// stream's others. It used to sleep its whole backoff.
func TestStreamBackoffEndsAtConnClose(t *testing.T) {
	cfg := sleepyConfig
	cfg.Budget = 3 * time.Hour
	s := newSetup(t, cfg, -1)
	srv := testkit.Start(t, &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return testkit.Status(grpccodes.Unavailable, "")
	}})
	cc := s.dial(t, srv)
	st, err := kycv1.NewLivenessServiceClient(cc).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&kycv1.CheckRequest{Index: 0}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	wantClosing(t, sleeping(t, s, 2, func() error { // the budget's timer and the sleep's
		_, err := st.CloseAndRecv()
		return err
	}).Start().CloseConn(t, cc))
	if n := srv.Calls(testkit.MethodCheck); n != 1 {
		t.Errorf("the server saw %d calls, want 1", n)
	}
	testkit.Eventually(t, "the stream's timers stopped", func() bool { return s.clk.Timers() == 0 })
	if evs := s.rec.Events(observe.AttemptFinished); len(evs) != 1 || evs[0].Code != grpccodes.Unavailable {
		t.Errorf("AttemptFinished = %+v, want one, Unavailable", evs)
	}
	if n := s.rec.Count(observe.RetriesExhausted); n != 0 {
		t.Errorf("%d RetriesExhausted, want none", n)
	}
}
