package hedge

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A business error of attempt 1 while a hedge runs decides the call: the hedge is canceled
// (the server sees it), no further hedge is sent although MaxAttempts allows one, and the
// caller gets the error.
func TestFirstBusinessErrorEndsTheCall(t *testing.T) {
	const d = 10 * time.Millisecond
	p, clk := hedged(t, Config{MaxAttempts: 3, Delay: d})
	release := make(chan struct{})
	hedgeCanceled := make(chan struct{})
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(context.Context) (metadata.MD, error) {
			<-release
			return nil, status.Error(grpccodes.NotFound, "no such document")
		},
		2: func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done()
			close(hedgeCanceled)
			return nil, status.FromContextError(ctx.Err()).Err()
		},
	})
	done := startCompare(context.Background(), p, s.invoke)
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(d)
	s.waitFor(t, 2)
	clk.BlockUntil(1) // the third attempt's timer
	close(release)
	<-hedgeCanceled
	if err := <-done; status.Code(err) != grpccodes.NotFound {
		t.Fatalf("call: %v, want attempt 1's NotFound", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Fatalf("%d timers left armed after the call was decided", n)
	}
	clk.Advance(time.Second)
	s.none(t)
}

// The attempts a hedged call canceled give back what they held below it: after a hedge won
// over attempt 1 through an adaptive bulkhead, no slot is held, and the canceled attempt
// gave the bulkhead's limit no sample (a cancellation says nothing of the service), while the
// hedge's answer did. Nor is a loser canceled before it had run the delay a latency sample.
func TestLosersReleaseWhatTheyHeld(t *testing.T) {
	const d = 10 * time.Millisecond
	p, clk := hedged(t, Config{MaxAttempts: 2, Delay: d, Percentile: 0.95, MinSamples: 1, Window: 10})
	bh, err := bulkhead.New("kyc.v1.FaceMatchService", bulkhead.Config{MaxConcurrent: 8,
		Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 2, LatencyThreshold: time.Hour}},
		bulkhead.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	answer := make(chan struct{})
	done := hedgedBelow(p, clk, d, bh.Unary(), func() error {
		<-answer
		return nil
	})
	if got := bh.InFlight(); got != 2 {
		t.Fatalf("%d bulkhead slots held by the two attempts, want 2", got)
	}
	clk.Advance(time.Millisecond) // after the change of the limit, if any: the hedge is a sample
	close(answer)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := bh.InFlight(); got != 0 {
		t.Fatalf("%d bulkhead slots still held after the call returned, want 0", got)
	}
	// The hedge's success, with both slots of the limit of 2 in use, added one; the
	// canceled attempt 1 gave no sample (a drop would have backed the limit off).
	if got := bh.Capacity(); got != 3 {
		t.Fatalf("bulkhead limit %d after the call, want 3 (the hedge's success alone)", got)
	}
	// Samples: the hedge's 1ms answer, and attempt 1's 11ms as a loser past the delay.
	if n := p.method(compare).est.count.Load(); n != 2 {
		t.Fatalf("%d latency samples, want 2 (the winner and the loser past the delay)", n)
	}
}

// Attempts canceled by the caller are no latency samples, whatever they ran; nor is a hedge
// canceled because attempt 1 won before the hedge had run the delay. And once the caller has
// canceled, no hedge goes, even when the delay passes before attempt 1 has returned.
func TestCanceledAttemptsAreNoSamples(t *testing.T) {
	const d = 10 * time.Millisecond
	newPolicy := func(t *testing.T, clk *clocktest.Fake) *Policy {
		p, err := New(Config{MaxAttempts: 2, Delay: d, Percentile: 0.95, MinSamples: 1, Window: 10}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hangs := func(ctx context.Context) (metadata.MD, error) {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	t.Run("caller cancels both attempts", func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		p := newPolicy(t, clk)
		s := newScripted(map[int]func(context.Context) (metadata.MD, error){1: hangs, 2: hangs})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := startCompare(ctx, p, s.invoke)
		s.waitFor(t, 1)
		clk.BlockUntil(1)
		clk.Advance(d)
		s.waitFor(t, 2)
		clk.Advance(5 * d) // both attempts have run well past the delay
		cancel()
		if err := <-done; status.Code(err) != grpccodes.Canceled {
			t.Fatalf("call: %v, want Canceled", err)
		}
		if n := p.method(compare).est.count.Load(); n != 0 {
			t.Fatalf("%d latency samples from attempts the caller canceled, want 0", n)
		}
	})
	t.Run("hedge loses before the delay", func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		p := newPolicy(t, clk)
		release := make(chan struct{})
		s := slowFirst(release)
		done := startCompare(context.Background(), p, s.invoke)
		s.waitFor(t, 1)
		clk.BlockUntil(1)
		clk.Advance(d)
		s.waitFor(t, 2)
		clk.Advance(d / 2)
		close(release) // attempt 1 answers at 1.5 delays; the hedge has run half of one
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := p.method(compare).est.count.Load(); n != 1 {
			t.Fatalf("%d latency samples, want 1 (attempt 1's answer alone)", n)
		}
		if got := p.Delay(compare); got < d {
			t.Fatalf("delay %v, want at least %v (attempt 1's 15ms; the loser's 5ms is no sample)", got, d)
		}
	})
	t.Run("no hedge after the caller canceled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			p := newPolicy(t, clk)
			release := make(chan struct{})
			s := newScripted(map[int]func(context.Context) (metadata.MD, error){
				1: func(ctx context.Context) (metadata.MD, error) {
					<-release // slow to notice the cancellation
					return nil, status.FromContextError(ctx.Err()).Err()
				},
				2: hangs,
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := startCompare(ctx, p, s.invoke)
			s.waitFor(t, 1)
			clk.BlockUntil(1)
			cancel()
			clk.Advance(d)  // the delay passes after the cancellation, attempt 1 still running
			synctest.Wait() // the timer's callback has run
			close(release)
			if err := <-done; status.Code(err) != grpccodes.Canceled {
				t.Fatalf("call: %v, want Canceled", err)
			}
			s.none(t)
			if got := s.total(); got != 1 {
				t.Fatalf("%d attempts sent, want 1: no hedge after the caller canceled", got)
			}
		})
	})
}

// Before any latency is known, an adaptive policy's delay is Config.Delay kept within
// [MinDelay, MaxDelay], as Policy.Delay says; a fixed one is Config.Delay as it is.
func TestStartingDelayWithinBounds(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{Delay: 100 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Percentile: 0.95}, 50 * time.Millisecond},
		{Config{Delay: time.Millisecond, Percentile: 0.9, MinDelay: 5 * time.Millisecond}, 5 * time.Millisecond},
		{Config{MaxDelay: 50 * time.Millisecond}, 50 * time.Millisecond},                                 // adaptive from the default 100ms
		{Config{Delay: 100 * time.Millisecond, MaxDelay: 50 * time.Millisecond}, 100 * time.Millisecond}, // fixed
	} {
		p, err := New(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Delay(compare); got != tt.want {
			t.Errorf("%+v: Delay = %v, want %v", tt.cfg, got, tt.want)
		}
	}
}
