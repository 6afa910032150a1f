package ratelimit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestWaitEndsAtConnClose: a call (or a stream's open) waiting for its token (the next one
// an hour away, MaxWait two, on a fake clock nothing advances) when its ClientConn shuts down
// returns at once, Canceled with the words of a closing ClientConn and of the wait for a
// token, not a RATE_LIMITED rejection (no Rejected event): the token it had reserved is given
// back. It used to wait out its whole wait.
func TestWaitEndsAtConnClose(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "unary", true: "stream"}[stream], func(t *testing.T) {
			clk := clocktest.New(time.Now())
			rec := &testkit.Recorder{}
			lim := ratelimit.NewLocal(1.0/3600, 1, ratelimit.WithClock(clk))
			p, err := ratelimit.New("kyc.v1.FaceMatchService", lim, ratelimit.Config{MaxWait: 2 * time.Hour},
				ratelimit.WithClock(clk), ratelimit.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			srv := testkit.Start(t, &testkit.Server{})
			cc := srv.Dial(t, grpc.WithUnaryInterceptor(p.Unary()), grpc.WithStreamInterceptor(p.Stream()))
			if d, err := lim.Take(context.Background(), 0); err != nil || !d.Allowed { // the one token, spent elsewhere
				t.Fatalf("Take = %+v, %v, want the bucket's token", d, err)
			}
			done := make(chan error, 1)
			go func() {
				if stream {
					_, err := kycv1.NewLivenessServiceClient(cc).Check(context.Background())
					done <- err
					return
				}
				_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{})
				done <- err
			}()
			clk.BlockUntil(1) // waiting for its token, on the token's timer
			if got := lim.Tokens(); got != -1 {
				t.Fatalf("Tokens = %v while the call waits, want -1 (its token reserved)", got)
			}
			if err := cc.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				clk.Advance(3 * time.Hour)
				t.Fatalf("the call waiting for a token did not return within 5s of ClientConn.Close (it returned %v once its 1h wait was over)", <-done)
			}
			if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") ||
				!strings.Contains(status.Convert(err).Message(), "token") {
				t.Fatalf("err = %v, want Canceled, the client connection is closing during the wait for a token", err)
			}
			if n := rec.Count(observe.Rejected); n != 0 {
				t.Errorf("%d Rejected events, want none: nothing was refused", n)
			}
			if got := lim.Tokens(); got != 0 {
				t.Errorf("Tokens = %v after the wait ended, want 0 (the reserved token given back)", got)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers left on the fake clock, want 0", n)
			}
		})
	}
}
