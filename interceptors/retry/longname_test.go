package retry

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
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

// A proxy forwarding the :path it is sent can name any number of services: past
// cowmap.MaxKeys, which bounds the methods the policy keeps, a new service shares one budget
// instead of keeping a budget of its own.
func TestManyServicesShareABoundedSetOfBudgets(t *testing.T) {
	p, err := New(Config{MaxAttempts: 2, Throttle: RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1}}, WithClock(clocktest.New(time.Unix(1e9, 0))))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cowmap.MaxKeys + 500 {
		name := "/svc" + strconv.Itoa(i) + ".S/M"
		if err := p.Do(context.Background(), name, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	p.mu.Lock()
	buckets := len(p.buckets)
	p.mu.Unlock()
	if buckets > cowmap.MaxKeys {
		t.Errorf("the policy keeps %d budgets after %d services, want at most %d", buckets, cowmap.MaxKeys+500, cowmap.MaxKeys)
	}
	a, b := p.Budget("past.the.Bound1"), p.Budget("past.the.Bound2")
	if a == nil || a != b {
		t.Errorf("two services past the bound got budgets %p and %p, want one shared budget", a, b)
	}
	if kept := p.Budget("svc1.S"); kept == a || kept != p.Budget("svc1.S") {
		t.Errorf("a kept service's budget %p is not its own (shared %p)", kept, a)
	}
}
