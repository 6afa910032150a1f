package throttle

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
)

// TestConcurrentAllowRecord runs Allow and Record from many goroutines while the clock moves
// the window across ten of its buckets, and checks that no request or accept is lost or
// counted twice. K = 1.5 against a one-in-two accept rate drives the probability to the cap,
// here 0.5, so that about half the calls take each path.
func TestConcurrentAllowRecord(t *testing.T) {
	const (
		goroutines = 8
		calls      = 2000
	)
	th, clk, _ := newTest(t, Config{Window: time.Hour, K: 1.5, MaxRejectProbability: 0.5}, WithRand(seqRand()))
	verdicts := []codes.Verdict{
		{Class: codes.Success},
		{Class: codes.Business, Code: grpccodes.InvalidArgument},
		{Class: codes.Throttled, Code: grpccodes.ResourceExhausted},
		{Class: codes.Transient, Code: grpccodes.Unavailable},
		{Class: codes.Canceled, Code: grpccodes.Canceled},
		{Class: codes.Rejected, Code: grpccodes.Unavailable},
	}
	var (
		wantRequests, wantAccepts, rejected atomic.Int64
		wg                                  sync.WaitGroup
		stop                                = make(chan struct{})
	)
	wg.Go(func() { // The clock: a minute per step, thirty steps (10 of the 20 three-minute buckets).
		for range 30 {
			clk.Advance(time.Minute)
			time.Sleep(time.Millisecond)
		}
	})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if p := th.Probability(); p < 0 || p > 0.5 {
				t.Errorf("Probability() = %v", p)
			}
			if r, a := th.Counts(); a > r {
				t.Errorf("Counts() = %d, %d: more accepts than requests", r, a)
			}
		}
	})
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				if err := th.Allow(method); err != nil {
					if !errors.Is(err, ErrThrottled) {
						t.Errorf("Allow: %v", err)
					}
					rejected.Add(1)
					wantRequests.Add(1)
					continue
				}
				v := verdicts[(g+i)%len(verdicts)]
				th.Record(v)
				if !v.Class.Ignored() {
					wantRequests.Add(1)
					if !v.Class.Failure() {
						wantAccepts.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if rejected.Load() == 0 {
		t.Error("nothing was throttled: the test does not exercise rejections")
	}
	r, a := th.Counts()
	if r != wantRequests.Load() || a != wantAccepts.Load() {
		t.Fatalf("Counts() = %d, %d, want %d, %d", r, a, wantRequests.Load(), wantAccepts.Load())
	}
	t.Logf("%d requests, %d accepts, %d throttled locally", r, a, rejected.Load())
}

// TestConcurrentReset checks under -race that Reset may run beside Allow and Record.
func TestConcurrentReset(t *testing.T) {
	th, _, _ := newTest(t, Config{}, WithRand(seqRand()))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if th.Allow(method) == nil {
					th.Record(failed)
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			th.Reset()
		}
	})
	wg.Wait()
	if r, a := th.Counts(); r < 0 || a != 0 {
		t.Fatalf("Counts() = %d, %d", r, a)
	}
}
