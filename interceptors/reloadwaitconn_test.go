package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestReloadRaisedMaxWaitEndsAtConnClose: a bulkhead built with max_wait 0, which a reload
// raises to an hour (kept with its slots, section.Spec.Retune), queues a call for its one
// slot; when the call's ClientConn shuts down the call returns at once, Canceled with the
// bulkhead's closing message, as it does on a bulkhead built to wait: the chains the reload
// made enter it with the call's ClientConn. A reload back to 0 leaves no gate of the chain
// entered with the ClientConn. The chains used to decide before the reload gave the
// bulkhead its new max_wait, so that the call waited out its hour.
func TestReloadRaisedMaxWaitEndsAtConnClose(t *testing.T) {
	for _, withRetry := range []bool{false, true} {
		t.Run(map[bool]string{false: "bulkhead", true: "bulkhead under retry"}[withRetry], func(t *testing.T) {
			testReloadRaisedMaxWaitEndsAtConnClose(t, withRetry)
		})
	}
}

func testReloadRaisedMaxWaitEndsAtConnClose(t *testing.T, withRetry bool) {
	clk := clocktest.New(time.Now())
	release := make(chan struct{})
	srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if call == 1 { // the holder of the bulkhead's one slot
			<-release
		}
		return &kycv1.CompareResponse{}, nil
	}})
	cfgOf := func(maxWait time.Duration) *config.Config {
		prof := config.Profile{Bulkhead: &bulkhead.Config{MaxConcurrent: 1, MaxWait: maxWait}}
		if withRetry {
			prof.Retry = &retry.Config{MaxAttempts: 3, Idempotent: true, InitialBackoff: time.Hour, MaxBackoff: time.Hour, Jitter: retry.JitterNone}
		}
		return &config.Config{
			Budget:   4 * time.Hour,
			Profiles: map[string]config.Profile{"p": prof},
			Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
		}
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfgOf(0), interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if n := interceptors.ConnGates(s, testkit.MethodCompare); n != 0 {
		t.Fatalf("max_wait 0: %d gates entered with the ClientConn, want none", n)
	}
	before := s.Bulkheads()[svcFaceMatch]
	if err := s.Reload(cfgOf(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if after := s.Bulkheads()[svcFaceMatch]; after != before {
		t.Fatal("the reload replaced the bulkhead; the test wants it kept and retuned")
	}
	if n := interceptors.ConnGates(s, testkit.MethodCompare); n != 1 {
		t.Errorf("max_wait raised to 1h: %d gates entered with the ClientConn, want the bulkhead", n)
	}
	holder := srv.Dial(t, s.DialOptions()...)
	cc := srv.Dial(t, s.DialOptions()...)
	held := make(chan error, 1)
	go func() {
		_, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{})
		held <- err
	}()
	testkit.Eventually(t, "the holder's call at the server", func() bool { return srv.Calls(testkit.MethodCompare) == 1 })
	// The waiting call puts two timers on the fake clock, its budget's and its wait's: it is
	// parked once both are there, not at the first timer, which may be the holder's.
	timers := clk.Timers()
	err = testkit.ConnWait{
		What: "the call queued in a bulkhead whose max_wait a reload raised", Over: "its wait was over",
		Call: func() error {
			_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{})
			return err
		},
		Parked: func() { clk.BlockUntil(timers + 2) }, // queued for the slot, on its wait's timer
		Unpark: func() {
			clk.Advance(3 * time.Hour)
			close(release)
		},
	}.Start().CloseConn(t, cc)
	const want = "bulkhead: the client connection is closing (ClientConn.Close during the wait for a slot)"
	if status.Code(err) != grpccodes.Canceled || status.Convert(err).Message() != want {
		t.Fatalf("err = %v, want Canceled, %q", err, want)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the holder's call: %v", err)
	}
	if n := rec.Count(observe.Rejected); n != 0 {
		t.Errorf("%d Rejected events, want none: nothing was refused", n)
	}
	// The slot is free again: a call takes it at once (it would queue behind one kept).
	if _, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{}, bulkhead.WithMaxWait(0)); err != nil {
		t.Errorf("a call after both ended: %v, want a free slot", err)
	}
	if err := s.Reload(cfgOf(0)); err != nil {
		t.Fatal(err)
	}
	if n := interceptors.ConnGates(s, testkit.MethodCompare); n != 0 {
		t.Errorf("max_wait back to 0: %d gates entered with the ClientConn, want none", n)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers left on the fake clock, want 0", n)
	}
	_ = holder.Close()
	srv.Stop()
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/bulwarkrpc/bulwark/internal/testkit.Start.func1"))
}
