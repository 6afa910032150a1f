package redislimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	bconfig "github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestTakeConnEndsAtConnClose: a TakeConn that Redis denied and that sleeps (on a fake clock
// nothing advances) until the token Redis said is an hour away, when its ClientConn shuts
// down, returns ratelimit.ErrConnClosing at once, without asking Redis again (a denial takes
// no token, so the call holds none). Take, given no ClientConn, sleeps on.
func TestTakeConnEndsAtConnClose(t *testing.T) {
	fake := clocktest.New(time.Time{})
	l := testLimiter(t, "ocr", config(sharedAddr(t), prefix(t), 1.0/3600, 1), WithClock(fake))
	take(t, l) // the one token
	cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var trips uint64
	err = testkit.ConnWait{
		What: "TakeConn sleeping for a token", Over: "its sleep was over",
		Call: func() error {
			_, err := l.TakeConn(context.Background(), cc, 2*time.Hour)
			return err
		},
		Parked: func() {
			fake.BlockUntil(1) // denied, sleeping until the next token
			trips = l.trips.Load()
		},
		Unpark: func() { fake.Advance(3 * time.Hour) },
	}.Start().CloseConn(t, cc)
	if !errors.Is(err, ratelimit.ErrConnClosing) {
		t.Fatalf("TakeConn = %v, want ratelimit.ErrConnClosing", err)
	}
	if n := l.trips.Load() - trips; n != 0 {
		t.Errorf("%d Redis round trips after the ClientConn closed, want none", n)
	}
	if n := fake.Timers(); n != 0 {
		t.Errorf("%d timers left on the fake clock, want 0", n)
	}
}

// TestSuiteRedisWaitEndsAtConnClose: through a suite, a call waiting for a fleet-wide token
// (max_wait 2h, the next token an hour away, a fake clock nothing advances) when its
// ClientConn shuts down returns at once, Canceled with the rate limiter's words of a closing
// ClientConn, and no Rejected event: the suite's chain enters the limiter with the call's
// ClientConn, and the Policy takes with TakeConn. It used to sleep out its hour. The same with
// max_wait 0 and the call's own ratelimit.WithMaxWait of 2h: a fleet-wide limiter is no
// Instant gate, so the chain enters it with the ClientConn whatever its max_wait.
func TestSuiteRedisWaitEndsAtConnClose(t *testing.T) {
	for _, perCall := range []bool{false, true} {
		t.Run(map[bool]string{false: "max_wait", true: "per-call max wait"}[perCall], func(t *testing.T) {
			testSuiteRedisWaitEndsAtConnClose(t, perCall)
		})
	}
}

func testSuiteRedisWaitEndsAtConnClose(t *testing.T, perCall bool) {
	fake := clocktest.New(time.Now())
	rl := config(sharedAddr(t), prefix(t), 1.0/3600, 1)
	var own []grpc.CallOption
	if perCall {
		own = append(own, ratelimit.WithMaxWait(2*time.Hour))
	} else {
		rl.MaxWait = 2 * time.Hour
	}
	cfg := &bconfig.Config{
		Budget:   4 * time.Hour,
		Profiles: map[string]bconfig.Profile{"p": {RateLimit: &rl}},
		Services: map[string]bconfig.Service{"kyc.v1.FaceMatchService": {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	suite, err := interceptors.New(cfg, interceptors.WithClock(fake), interceptors.WithObserver(rec), interceptors.WithRemoteLimiter(Factory(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = suite.Close() }()
	srv := testkit.Start(t, &testkit.Server{})
	holder := srv.Dial(t, suite.DialOptions()...)
	if _, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("the first call, the bucket's one token: %v", err)
	}
	cc := srv.Dial(t, suite.DialOptions()...)
	err = testkit.ConnWait{
		What: "the call waiting for a fleet-wide token", Over: "its wait was over",
		Call: func() error {
			_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, own...)
			return err
		},
		Parked: func() { fake.BlockUntil(1) }, // denied, sleeping until the next token
		Unpark: func() { fake.Advance(3 * time.Hour) },
	}.Start().CloseConn(t, cc)
	const want = "ratelimit: the client connection is closing (ClientConn.Close during the wait for a token)"
	if status.Code(err) != grpccodes.Canceled || status.Convert(err).Message() != want {
		t.Fatalf("err = %v, want Canceled, %q", err, want)
	}
	if n := rec.Count(observe.Rejected); n != 0 {
		t.Errorf("%d Rejected events, want none: nothing was refused", n)
	}
	if n := srv.Calls(testkit.MethodCompare); n != 1 {
		t.Errorf("the server saw %d calls, want the first alone", n)
	}
	_ = holder.Close()
	srv.Stop()
}
