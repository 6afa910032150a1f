package interceptors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestRetryBackoffEndsAtConnClose: through a suite with a retry step (an hour's backoff on a
// fake clock nothing advances) and a bulkhead, a unary call sleeping before its retry when
// its ClientConn shuts down returns at once, Canceled with the words of a closing
// ClientConn, as gRPC ends the calls it holds: one attempt reached the server, the call is
// reported once (CallFinished, Canceled) with no RetriesExhausted, and no timer or goroutine
// is left. Both ways the suite runs the retry loop: with the budget bounding the call (the
// caller has no deadline), and with the caller's deadline before the budget's end (the first
// attempt made before the loop is set up, see retry.Policy.InvokeGated). It used to sleep its
// whole backoff, then send an attempt that failed at once.
func TestRetryBackoffEndsAtConnClose(t *testing.T) {
	for _, deadline := range []bool{false, true} {
		t.Run(map[bool]string{false: "budget", true: "caller's deadline"}[deadline], func(t *testing.T) {
			testRetryBackoffEndsAtConnClose(t, deadline)
		})
	}
}

func testRetryBackoffEndsAtConnClose(t *testing.T, deadline bool) {
	clk := clocktest.New(time.Now())
	srv := testkit.Start(t, &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return nil, testkit.Status(grpccodes.Unavailable, "")
	}})
	cfg := &config.Config{
		Budget: 4 * time.Hour,
		Profiles: map[string]config.Profile{"p": {
			Retry: &retry.Config{
				MaxAttempts: 3, Idempotent: true, InitialBackoff: time.Hour, MaxBackoff: time.Hour,
				Jitter: retry.JitterNone,
			},
			Bulkhead: &bulkhead.Config{MaxConcurrent: 1},
		}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	cc := srv.Dial(t, s.DialOptions()...)
	ctx := context.Background()
	if deadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, clk.Now().Add(3*time.Hour))
		defer cancel()
	}
	err = testkit.ConnWait{
		What: "the call sleeping before a retry", Over: "its 1h sleep was over",
		Call: func() error {
			_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(ctx, &kycv1.CompareRequest{})
			return err
		},
		Parked: func() {
			testkit.Eventually(t, "the retry's backoff", func() bool { return rec.Count(observe.RetryScheduled) == 1 })
			clk.BlockUntil(1)
		},
		Unpark: func() { clk.Advance(2 * time.Hour) },
	}.Start().CloseConn(t, cc)
	if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") {
		t.Fatalf("err = %v, want Canceled, the client connection is closing", err)
	}
	if n := srv.Calls(testkit.MethodCompare); n != 1 {
		t.Errorf("the server saw %d calls, want 1", n)
	}
	if calls := rec.Events(observe.CallFinished); len(calls) != 1 || calls[0].Code != grpccodes.Canceled {
		t.Errorf("CallFinished %+v, want one, Canceled", calls)
	}
	if n := rec.Count(observe.RetriesExhausted); n != 0 {
		t.Errorf("%d RetriesExhausted, want none", n)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers left on the fake clock, want 0", n)
	}
	srv.Stop()
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/bulwarkrpc/bulwark/internal/testkit.Start.func1"))
}

// TestGateWaitEndsAtConnClose: through a suite, with and without a retry step, a unary call
// waiting for a bulkhead's slot (held by a call on another ClientConn of the suite) or for a
// rate limiter's token (the next an hour away) when its ClientConn shuts down returns at
// once, Canceled with the words of a closing ClientConn, reported once (CallFinished,
// Canceled) with no Rejected event; the slot held is released when its call ends, no slot or
// token is kept, and no timer or goroutine is left. It used to wait out its whole wait.
func TestGateWaitEndsAtConnClose(t *testing.T) {
	for _, gate := range []string{"bulkhead", "rate limiter"} {
		for _, withRetry := range []bool{false, true} {
			t.Run(gate+map[bool]string{false: "", true: " under retry"}[withRetry], func(t *testing.T) {
				testGateWaitEndsAtConnClose(t, gate == "bulkhead", withRetry)
			})
		}
	}
}

func testGateWaitEndsAtConnClose(t *testing.T, bh, withRetry bool) {
	clk := clocktest.New(time.Now())
	release := make(chan struct{})
	srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if bh && call == 1 { // the holder of the bulkhead's one slot
			<-release
		}
		return &kycv1.CompareResponse{}, nil
	}})
	prof := config.Profile{}
	if bh {
		prof.Bulkhead = &bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Hour}
	} else {
		prof.RateLimit = &ratelimit.Config{Rate: 1.0 / 3600, Burst: 1, MaxWait: 2 * time.Hour}
	}
	if withRetry {
		prof.Retry = &retry.Config{MaxAttempts: 3, Idempotent: true, InitialBackoff: time.Hour, MaxBackoff: time.Hour, Jitter: retry.JitterNone}
	}
	cfg := &config.Config{
		Budget:   4 * time.Hour,
		Profiles: map[string]config.Profile{"p": prof},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	holder := srv.Dial(t, s.DialOptions()...)
	cc := srv.Dial(t, s.DialOptions()...)
	held := make(chan error, 1)
	if bh {
		go func() {
			_, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{})
			held <- err
		}()
		testkit.Eventually(t, "the holder's call at the server", func() bool { return srv.Calls(testkit.MethodCompare) == 1 })
	} else {
		_, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{})
		held <- err
	}
	// The waiting call puts two timers on the fake clock, its budget's and its wait's: it is
	// parked once both are there, not at the first timer, which may be the holder's.
	timers := clk.Timers()
	err = testkit.ConnWait{
		What: "the call waiting in a gate", Over: "its wait was over",
		Call: func() error {
			_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{})
			return err
		},
		Parked: func() { clk.BlockUntil(timers + 2) }, // waiting for its slot or token, on the wait's timer
		Unpark: func() {
			clk.Advance(3 * time.Hour)
			close(release)
		},
	}.Start().CloseConn(t, cc)
	if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") {
		t.Fatalf("err = %v, want Canceled, the client connection is closing", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the holder's call: %v", err)
	}
	if n := srv.Calls(testkit.MethodCompare); n != 1 {
		t.Errorf("the server saw %d calls, want the holder's alone", n)
	}
	if n := rec.Count(observe.Rejected); n != 0 {
		t.Errorf("%d Rejected events, want none: nothing was refused", n)
	}
	if calls := rec.Events(observe.CallFinished); len(calls) != 2 || calls[0].Code != grpccodes.Canceled && calls[1].Code != grpccodes.Canceled {
		t.Errorf("CallFinished %+v, want two, one Canceled", calls)
	}
	if bh {
		// The slot is free again: a call takes it at once (it would queue behind one kept).
		if _, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{}, bulkhead.WithMaxWait(0)); err != nil {
			t.Errorf("a call after both ended: %v, want a free slot", err)
		}
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers left on the fake clock, want 0", n)
	}
	_ = holder.Close()
	srv.Stop()
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/bulwarkrpc/bulwark/internal/testkit.Start.func1"))
}
