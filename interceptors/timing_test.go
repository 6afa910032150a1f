package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The suite and its retry loop share the call's clock readings (section.Timing): CallFinished
// still spans the whole call, backoff sleeps included, also when the caller ends the call
// during a sleep, after the loop's last reading of the clock.
func TestCallFinishedSpansTheCallWithSharedTiming(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cancelled bool // the caller cancels 1 s into the backoff sleep
		code      grpccodes.Code
	}{
		{"retried to success", false, grpccodes.OK},
		{"cancelled during the backoff", true, grpccodes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(1_700_000_000, 0)
			clk := clocktest.New(t0)
			rec := &testkit.Recorder{}
			s, err := interceptors.New(suitecfg.Full(), interceptors.WithClock(clk), interceptors.WithObserver(rec),
				interceptors.WithRand(func() float64 { return 0.5 }), interceptors.WithBreakerRegistry(new(breaker.Registry)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			n := 0
			invoker := func(actx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				n++
				if n > 1 {
					clk.Advance(200 * time.Millisecond)
					return nil
				}
				clk.Advance(100 * time.Millisecond)
				go func() { // once the attempt's context (and its timer) is gone, the backoff sleep's timer is the one
					defer close(done)
					<-actx.Done()
					if !tc.cancelled {
						clk.AdvanceWhenWaiting()
						return
					}
					clk.BlockUntil(1)
					clk.Advance(time.Second)
					cancel()
				}()
				return status.Error(grpccodes.Unavailable, "down")
			}
			err = s.Unary()(ctx, "/"+svcFaceMatch+"/Compare", nil, nil, nil, invoker)
			<-done
			if got := status.Code(err); got != tc.code {
				t.Fatalf("call ended with %v, want %v", err, tc.code)
			}
			calls := rec.Events(observe.CallFinished)
			if len(calls) != 1 {
				t.Fatalf("%d CallFinished, want 1", len(calls))
			}
			if want := clk.Now().Sub(t0); calls[0].Duration != want || !calls[0].Time.Equal(clk.Now()) {
				t.Errorf("CallFinished at +%v lasting %v, want at +%v lasting %v (the whole call)", calls[0].Time.Sub(t0), calls[0].Duration, want, want)
			}
			attempts := rec.Events(observe.AttemptFinished)
			if len(attempts) == 0 || attempts[0].Duration != 100*time.Millisecond || !attempts[0].Time.Equal(t0.Add(100*time.Millisecond)) {
				t.Errorf("first AttemptFinished %+v, want one of 100ms from the call's start", attempts)
			}
		})
	}
}

// A local rate limiter takes the call's first token at the call's start (section.Clocked: no
// reading of its own), and a retry's token at the time the retry starts: a bucket of one
// token that refills in a second serves a call retried after a second's backoff.
func TestLimiterTakesARetrysTokenAtItsStart(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	clk := clocktest.New(t0)
	cfg := &config.Config{Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{"p": {
			Retry: &retry.Config{MaxAttempts: 2, InitialBackoff: time.Second, MaxBackoff: time.Second, Jitter: retry.JitterNone,
				PerAttemptTimeout: 5 * time.Second},
			RateLimit: &ratelimit.Config{Rate: 1, Burst: 1},
		}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithObserver(&testkit.Recorder{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	n := 0
	invoker := func(actx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if n++; n > 1 {
			return nil
		}
		go func() { // once the attempt's context is gone, the backoff sleep's timer is the one
			<-actx.Done()
			clk.BlockUntil(1)
			clk.Advance(time.Second)
		}()
		return status.Error(grpccodes.Unavailable, "down")
	}
	if err := s.Unary()(context.Background(), "/"+svcFaceMatch+"/Compare", nil, nil, nil, invoker); err != nil {
		t.Fatalf("call: %v, want the retry to pass the limiter a second later", err)
	}
	if n != 2 {
		t.Errorf("%d attempts reached the invoker, want 2", n)
	}
}
