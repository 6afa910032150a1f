package retry

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Calls of names too long to be kept (a proxy forwards the :path it is sent, which may be
// megabytes) are retried as any call is, and the policy keeps neither their names nor a budget
// of their own: 100 distinct names of 64 KiB, of 100 services, keep nothing.
func TestLongNamesAreRetriedAndNotKept(t *testing.T) {
	clk := clocktest.New(time.Unix(1e9, 0))
	p, err := New(Config{MaxAttempts: 2, Idempotent: true, Throttle: RetryBudgetConfig{MaxTokens: 1000, TokenRatio: 0.1}}, WithClock(clk), WithRand(func() float64 { return 0.5 }))
	if err != nil {
		t.Fatal(err)
	}
	unavailable := status.Error(grpccodes.Unavailable, "down")
	before := testkit.Heap()
	for i := range 100 {
		name := "/" + testkit.LongName("svc", i, 64<<10) + "/M"
		attempts := 0
		done := make(chan error, 1)
		go func() {
			done <- p.Do(context.Background(), name, func(context.Context) error {
				if attempts++; attempts == 1 {
					return unavailable
				}
				return nil
			})
		}()
		clk.AdvanceWhenWaiting() // the backoff before the retry
		if err := <-done; err != nil || attempts != 2 {
			t.Fatalf("call %d of a long name: %v after %d attempts, want success after 2", i, err, attempts)
		}
	}
	grown := int64(testkit.Heap()) - int64(before)
	if n := p.methods.Len(); n != 0 {
		t.Errorf("the policy keeps %d long names, want none", n)
	}
	p.mu.Lock()
	buckets := len(p.buckets)
	p.mu.Unlock()
	if buckets != 0 {
		t.Errorf("the policy keeps %d budgets of long services, want none", buckets)
	}
	if grown > 1<<20 {
		t.Errorf("100 names of 64 KiB kept %d bytes, want none", grown)
	}
}
