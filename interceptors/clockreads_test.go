package interceptors_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// countingClock is the real clock, counting its readings.
type countingClock struct{ reads atomic.Int64 }

func (c *countingClock) Now() time.Time {
	c.reads.Add(1)
	return time.Now()
}

func (c *countingClock) NewTimer(d time.Duration) clock.Timer { return clock.Real.NewTimer(d) }

func (c *countingClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return clock.Real.AfterFunc(d, f)
}

// maxClockReads is how often a successful call through suitecfg.Full with an observer reads the clock:
// the call's start (which the rate limiter's take shares: section.Clocked), the attempt's end
// (AttemptFinished, CallFinished) and the attempt context's timer (with the real clock,
// context.WithDeadline's own reading; dialed with its service config, grpc's).
const maxClockReads = 3

// Reading the clock is a good share of the suite's own work per call (about 50 ns each on a
// virtual machine): a successful call reads it at most maxClockReads times.
func TestClockReadsPerCall(t *testing.T) {
	// An observer that keeps nothing: the suite emits every event as it does for promobs, which
	// reads no clock of its own (events carry their time); promobs itself is a module of its own,
	// which the core's tests do not import.
	m := observe.SinkFunc(func(observe.Event) {})
	t.Run("observed", func(t *testing.T) { clockReads(t, suitecfg.Full(), interceptors.WithObserver(m), maxClockReads) })
	// Without an observer nothing needs the call's end: the call's start and the attempt
	// context's timer.
	t.Run("not observed", func(t *testing.T) { clockReads(t, suitecfg.Full(), nil, maxClockReads-1) })
	// The built-ins' ratio retry budget counts each call in a slot of its window, which needs
	// the time: an observed call's budget takes the reading its AttemptFinished takes (it read
	// the clock once more, 4 times a call, before); without an observer it reads its own.
	ratio := suitecfg.Full()
	ratio.Profiles["bench"].Retry.Throttle = retry.RetryBudgetConfig{Ratio: 0.1, MinPerSecond: 10, Window: 10 * time.Second}
	t.Run("ratio budget, observed", func(t *testing.T) { clockReads(t, ratio, interceptors.WithObserver(m), maxClockReads) })
	t.Run("ratio budget, not observed", func(t *testing.T) { clockReads(t, ratio, nil, maxClockReads) })
}

// clockReads checks that a successful call through cfg (suitecfg.Full or a variant) with obs
// reads the clock at most most times.
func clockReads(t *testing.T, cfg *config.Config, obs interceptors.Option, most int) {
	clk := &countingClock{}
	opts := []interceptors.Option{interceptors.WithClock(clk), interceptors.WithBreakerRegistry(new(breaker.Registry))}
	if obs != nil {
		opts = append(opts, obs)
	}
	s, err := interceptors.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := testkit.Start(t, &testkit.Server{})
	client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, s.DialOptions()...))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // under the deadline's cap: DeadlineApplied
	defer cancel()
	call := func() {
		if _, err := client.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	call() // builds nothing (New built the chain), but warms the metric children
	const calls = 50
	before := clk.reads.Load()
	for range calls {
		call()
	}
	got := float64(clk.reads.Load()-before) / calls
	t.Logf("%.2f clock readings per call", got)
	if got > float64(most) {
		t.Errorf("a call reads the clock %.2f times, want at most %d", got, most)
	}
}
