package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestEqualPushbacksReturnTheLast: when every attempt failed and two bind the retry loop
// alike (the same pushback delay, or both a stop), the call fails with the last of them, as
// the doc says ("else the last") and as grpc-go's own hedging does: the caller gets that
// attempt's error and trailer. Hedge 2 fails first, then attempt 1. Before the fix the call
// kept hedge 2's, the earlier, on a tie.
func TestEqualPushbacksReturnTheLast(t *testing.T) {
	for _, tt := range []struct {
		name     string
		pushback string
	}{
		{"equal delays", "500"},
		{"both stop", "-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			finished := make(chan int, 2)
			sink := observe.SinkFunc(func(e observe.Event) {
				if e.Kind == observe.AttemptFinished {
					finished <- e.Attempt
				}
			})
			p, err := New(Config{MaxAttempts: 2, Delay: 10 * time.Millisecond}, WithClock(clk), WithObserver(sink))
			if err != nil {
				t.Fatal(err)
			}
			fail := func(who string) (metadata.MD, error) {
				return metadata.Pairs(codes.PushbackKey, tt.pushback, "who", who), status.Error(grpccodes.Unavailable, "attempt "+who)
			}
			release1 := make(chan struct{})
			s := newScripted(map[int]func(context.Context) (metadata.MD, error){
				1: func(context.Context) (metadata.MD, error) { <-release1; return fail("1") },
				2: func(context.Context) (metadata.MD, error) { return fail("2") },
			})
			var trailer metadata.MD
			done := make(chan error, 1)
			go func() {
				done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke, grpc.Trailer(&trailer))
			}()
			s.waitFor(t, 1)
			clk.BlockUntil(1)
			clk.Advance(10 * time.Millisecond)
			s.waitFor(t, 2)
			if n := <-finished; n != 2 {
				t.Fatalf("attempt %d finished first, want hedge 2", n)
			}
			close(release1)
			err = <-done
			if got := status.Convert(err).Message(); got != "attempt 1" {
				t.Errorf("call failed with %q (%v), want the last failure, attempt 1's", got, err)
			}
			if who := trailer.Get("who"); len(who) != 1 || who[0] != "1" {
				t.Errorf("trailer %v, want attempt 1's (the last failure's)", trailer)
			}
		})
	}
}
