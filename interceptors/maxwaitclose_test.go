package interceptors_test

import (
	"context"
	"errors"
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
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestPerCallMaxWaitEndsAtConnClose: through a suite whose bulkhead (one slot, held by a call
// on another ClientConn of the suite) or local rate limiter (one token, spent, the next an
// hour away) is configured with max_wait 0, a unary call given a wait of its own
// (bulkhead.WithMaxWait, ratelimit.WithMaxWait: an hour) waits for its slot or token; when its
// ClientConn shuts down it returns at once, Canceled with the words of a closing ClientConn,
// reported once (CallFinished, Canceled) with no Rejected event, and keeps no slot or token:
// the slot is free again once its holder ends, the token it had reserved comes an hour after
// the spent one. With and without a retry step (whose attempts pass the gates alone). A suite
// enters a gate whose max_wait is 0 without the ClientConn; such a call used to wait its whole
// hour. A stream's open, which the gates always enter with the ClientConn, is checked alike.
func TestPerCallMaxWaitEndsAtConnClose(t *testing.T) {
	for _, gate := range []string{"bulkhead", "rate limiter"} {
		for _, kind := range []string{"unary", "unary under retry", "stream"} {
			t.Run(gate+"/"+kind, func(t *testing.T) {
				testPerCallMaxWait(t, gate == "bulkhead", kind, true)
			})
		}
	}
}

// TestPerCallMaxWaitWithoutConnClose: the calls of TestPerCallMaxWaitEndsAtConnClose, their
// ClientConn left open, still wait for their slot or token with the wait they gave, and pass
// once it comes (the holder's call ends; the clock reaches the next token), through the
// gates once: the slot is free again after them, the token is spent.
func TestPerCallMaxWaitWithoutConnClose(t *testing.T) {
	for _, gate := range []string{"bulkhead", "rate limiter"} {
		for _, kind := range []string{"unary", "unary under retry"} {
			t.Run(gate+"/"+kind, func(t *testing.T) {
				testPerCallMaxWait(t, gate == "bulkhead", kind, false)
			})
		}
	}
}

func testPerCallMaxWait(t *testing.T, bh bool, kind string, closeConn bool) {
	stream := kind == "stream"
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
		prof.Bulkhead = &bulkhead.Config{MaxConcurrent: 1} // max_wait 0: fail fast
	} else {
		prof.RateLimit = &ratelimit.Config{Rate: 1.0 / 3600, Burst: 1} // max_wait 0: fail fast
	}
	if kind == "unary under retry" {
		prof.Retry = &retry.Config{MaxAttempts: 3, Idempotent: true, InitialBackoff: time.Hour, MaxBackoff: time.Hour, Jitter: retry.JitterNone}
	}
	cfg := &config.Config{
		Budget:   4 * time.Hour,
		Profiles: map[string]config.Profile{"p": prof},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}, svcLiveness: {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	holder := srv.Dial(t, s.DialOptions()...)
	cc := srv.Dial(t, s.DialOptions()...)
	own := []grpc.CallOption{bulkhead.WithMaxWait(time.Hour)}
	noWait := []grpc.CallOption{bulkhead.WithMaxWait(0)}
	if !bh {
		own = []grpc.CallOption{ratelimit.WithMaxWait(time.Hour)}
		noWait = []grpc.CallOption{ratelimit.WithMaxWait(0)}
	}

	// The holder: a call (a stream) holding the bulkhead's one slot, or one that spent the
	// limiter's one token.
	held := make(chan error, 1)
	var holderStream kycv1.LivenessService_CheckClient
	switch {
	case stream:
		if holderStream, err = kycv1.NewLivenessServiceClient(holder).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	case bh:
		go func() {
			_, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{})
			held <- err
		}()
		testkit.Eventually(t, "the holder's call at the server", func() bool { return srv.Calls(testkit.MethodCompare) == 1 })
	default:
		_, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{})
		held <- err
	}
	endHolder := func() error {
		if stream {
			_, err := holderStream.CloseAndRecv()
			return err
		}
		if bh {
			close(release)
		}
		return <-held
	}

	// The waiting call puts two timers on the fake clock, its budget's (the suite's 4 h, a
	// context ended on this clock) and its wait's: it is parked once both are there. Not the
	// first timer alone: a limiter that computed its wait before Advance moves the clock, and
	// made its timer after, would wait for a token an hour past the one that came.
	timers := clk.Timers()
	call := testkit.ConnWait{
		What: "the call waiting in a gate with its own max wait", Over: "its wait was over",
		Call: func() error {
			if stream {
				st, err := kycv1.NewLivenessServiceClient(cc).Check(context.Background(), own...)
				if err == nil {
					_, err = st.CloseAndRecv()
				}
				return err
			}
			_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, own...)
			return err
		},
		Parked: func() { clk.BlockUntil(timers + 2) }, // waiting for its slot or token, on the wait's timer
		Unpark: func() {
			clk.Advance(3 * time.Hour)
			_ = endHolder()
		},
	}.Start()

	if !closeConn {
		select {
		case err := <-call.Done():
			t.Fatalf("the call given an hour's wait returned %v while its slot or token was an hour away, want it waiting", err)
		default:
		}
		if bh {
			if err := endHolder(); err != nil { // its slot goes to the waiting call
				t.Fatalf("the holder's call: %v", err)
			}
		} else {
			clk.Advance(time.Hour) // its token comes
		}
		if err := <-call.Done(); err != nil {
			t.Fatalf("the waiting call: %v, want it served once its slot or token came", err)
		}
		if n := srv.Calls(testkit.MethodCompare); n != 2 {
			t.Errorf("the server saw %d calls, want 2 (the holder's and the waiter's)", n)
		}
		if n := rec.Count(observe.Rejected); n != 0 {
			t.Errorf("%d Rejected events, want none: nothing was refused", n)
		}
		_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, noWait...)
		if bh && err != nil {
			t.Errorf("a call after both ended: %v, want a free slot", err)
		}
		if !bh && !errors.Is(err, ratelimit.ErrLimited) {
			t.Errorf("a call just after the waiter took the next token: %v, want ErrLimited (that token spent)", err)
		}
		if n := clk.Timers(); n != 0 {
			t.Errorf("%d timers left on the fake clock, want 0", n)
		}
		_ = cc.Close()
		_ = holder.Close()
		srv.Stop()
		goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/bulwarkrpc/bulwark/internal/testkit.Start.func1"))
		return
	}

	err = call.CloseConn(t, cc)
	if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") {
		t.Fatalf("err = %v, want Canceled, the client connection is closing", err)
	}
	if err := endHolder(); err != nil {
		t.Fatalf("the holder's call: %v", err)
	}
	if n := rec.Count(observe.Rejected); n != 0 {
		t.Errorf("%d Rejected events, want none: nothing was refused", n)
	}
	if stream {
		if n := srv.Calls(testkit.MethodCheck); n != 1 {
			t.Errorf("the server saw %d streams, want the holder's alone", n)
		}
	} else {
		if n := srv.Calls(testkit.MethodCompare); n != 1 {
			t.Errorf("the server saw %d calls, want the holder's alone", n)
		}
		if calls := rec.Events(observe.CallFinished); len(calls) != 2 || calls[0].Code != grpccodes.Canceled && calls[1].Code != grpccodes.Canceled {
			t.Errorf("CallFinished %+v, want two, one Canceled", calls)
		}
	}
	if !bh {
		clk.Advance(time.Hour) // the token the closed call had reserved, given back
	}
	// The slot is free again, or the next token came: a call that may not wait passes.
	if stream {
		st, err := kycv1.NewLivenessServiceClient(holder).Check(context.Background(), noWait...)
		if err == nil {
			_, err = st.CloseAndRecv()
		}
		if err != nil {
			t.Errorf("a stream after both ended: %v, want its slot or token at once", err)
		}
	} else if _, err := kycv1.NewFaceMatchServiceClient(holder).Compare(context.Background(), &kycv1.CompareRequest{}, noWait...); err != nil {
		t.Errorf("a call after both ended: %v, want its slot or token at once", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers left on the fake clock, want 0", n)
	}
	_ = holder.Close()
	srv.Stop()
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/bulwarkrpc/bulwark/internal/testkit.Start.func1"))
}
