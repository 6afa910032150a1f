package retry_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A call that fails twice with Unavailable, then succeeds. A fake clock, driven from the
// RetryScheduled events, makes the sleeps instant and the output exact.
func ExamplePolicy_Do() {
	clk := clocktest.New(time.Time{})
	sleeps := make(chan time.Duration)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range sleeps {
			clk.BlockUntil(1)
			clk.Advance(d)
		}
	}()
	sink := observe.SinkFunc(func(e observe.Event) {
		switch e.Kind {
		case observe.AttemptFinished:
			fmt.Println("attempt", e.Attempt, e.Code)
		case observe.RetryScheduled:
			fmt.Println("sleep", e.Delay)
			sleeps <- e.Delay
		}
	})
	p, err := retry.New(retry.Config{
		MaxAttempts:    4,
		InitialBackoff: 500 * time.Millisecond,
		MaxBackoff:     10 * time.Second,
		Jitter:         retry.JitterAdditive,
		JitterAmount:   time.Second,
	}, retry.WithClock(clk), retry.WithRand(func() float64 { return 0.5 }), retry.WithObserver(sink))
	if err != nil {
		panic(err)
	}
	calls := 0
	var info retry.Info
	err = p.Do(context.Background(), "/kyc.v1.OCRService/Extract", func(context.Context) error {
		calls++
		if calls < 3 {
			return status.Error(grpccodes.Unavailable, "OCR model loading")
		}
		return nil
	}, retry.Report(&info))
	close(sleeps)
	<-done
	fmt.Println(err, info.Attempts, info.Elapsed)
	// Output:
	// attempt 1 Unavailable
	// sleep 1s
	// attempt 2 Unavailable
	// sleep 1.5s
	// attempt 3 OK
	// <nil> 3 2.5s
}
