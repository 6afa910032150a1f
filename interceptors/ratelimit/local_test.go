package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewLocalBurst(t *testing.T) {
	tests := []struct {
		rate      float64
		burst     int
		wantBurst int
	}{
		{rate: 10, burst: 3, wantBurst: 3},
		{rate: 10, burst: 0, wantBurst: 10},
		{rate: 2.5, burst: 0, wantBurst: 3},
		{rate: 0.1, burst: 0, wantBurst: 1},
	}
	for _, tt := range tests {
		l := ratelimit.NewLocal(tt.rate, tt.burst)
		if l.Burst() != tt.wantBurst || l.Rate() != tt.rate {
			t.Errorf("NewLocal(%v, %d): rate %v burst %d, want burst %d", tt.rate, tt.burst, l.Rate(), l.Burst(), tt.wantBurst)
		}
	}
}

// TestLocalRefill checks the bucket to the nanosecond under a fake clock: 10 tokens/s, burst 2.
func TestLocalRefill(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := ratelimit.NewLocal(10, 2, ratelimit.WithClock(clk))
	ctx := context.Background()
	steps := []struct {
		advance        time.Duration
		wantAllowed    bool
		wantRetryAfter time.Duration
	}{
		{wantAllowed: true},
		{wantAllowed: true},
		{wantRetryAfter: 100 * time.Millisecond},
		{advance: 99 * time.Millisecond, wantRetryAfter: time.Millisecond},
		{advance: time.Millisecond, wantAllowed: true},
		{wantRetryAfter: 100 * time.Millisecond},
		{advance: time.Hour, wantAllowed: true}, // refills to the burst, no further
		{wantAllowed: true},
		{wantRetryAfter: 100 * time.Millisecond},
		{advance: 150 * time.Millisecond, wantAllowed: true}, // 1.5 tokens: one taken
		{wantRetryAfter: 50 * time.Millisecond},
		{advance: 49 * time.Millisecond, wantRetryAfter: time.Millisecond},
		{advance: time.Millisecond, wantAllowed: true},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		d, err := l.Take(ctx, 0)
		if err != nil {
			t.Fatalf("step %d: Take error %v", i, err)
		}
		if d.Allowed != s.wantAllowed || d.RetryAfter != s.wantRetryAfter {
			t.Fatalf("step %d: Take = %+v, want Allowed %v RetryAfter %v", i, d, s.wantAllowed, s.wantRetryAfter)
		}
	}
}

// TestLocalWait drives a bounded wait on an empty bucket (10 tokens/s: next token in 100ms).
func TestLocalWait(t *testing.T) {
	tests := []struct {
		name           string
		maxWait        time.Duration
		deadline       time.Duration // 0: none
		cancel         bool
		wantWait       bool // Take starts a timer
		wantAllowed    bool
		wantErr        error
		wantRetryAfter time.Duration
	}{
		{name: "waits within max wait", maxWait: 200 * time.Millisecond, wantWait: true, wantAllowed: true},
		{name: "exactly max wait", maxWait: 100 * time.Millisecond, wantWait: true, wantAllowed: true},
		{name: "max wait too short", maxWait: 50 * time.Millisecond, wantRetryAfter: 100 * time.Millisecond},
		{name: "deadline too near", maxWait: time.Second, deadline: 50 * time.Millisecond, wantRetryAfter: 100 * time.Millisecond},
		{name: "within deadline", maxWait: time.Second, deadline: 150 * time.Millisecond, wantWait: true, wantAllowed: true},
		{name: "canceled while waiting", maxWait: time.Second, cancel: true, wantWait: true, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			l := ratelimit.NewLocal(10, 1, ratelimit.WithClock(clk))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if d, _ := l.Take(ctx, 0); !d.Allowed {
				t.Fatal("first token refused")
			}
			timers := 0
			if tt.deadline > 0 {
				var c2 context.CancelFunc
				ctx, c2 = clock.WithTimeout(ctx, clk, tt.deadline)
				defer c2()
				timers = 1
			}
			start := clk.Now()
			type result struct {
				d   ratelimit.Decision
				err error
			}
			done := make(chan result, 1)
			go func() {
				d, err := l.Take(ctx, tt.maxWait)
				done <- result{d, err}
			}()
			if tt.wantWait {
				clk.BlockUntil(timers + 1)
				if tt.cancel {
					cancel()
				} else {
					clk.Advance(100 * time.Millisecond)
				}
			}
			r := <-done
			if !errors.Is(r.err, tt.wantErr) || r.d.Allowed != tt.wantAllowed || r.d.RetryAfter != tt.wantRetryAfter {
				t.Fatalf("Take = %+v, %v; want Allowed %v RetryAfter %v err %v", r.d, r.err, tt.wantAllowed, tt.wantRetryAfter, tt.wantErr)
			}
			if !tt.wantWait && clk.Since(start) != 0 {
				t.Errorf("answered after %v, want at once", clk.Since(start))
			}
			if !tt.wantAllowed {
				// A refused or canceled wait gives its reservation back: one token 100ms on.
				clk.Set(start.Add(100 * time.Millisecond))
				if d, _ := l.Take(context.Background(), 0); !d.Allowed {
					t.Errorf("token not given back: Take = %+v", d)
				}
			}
		})
	}
}

// TestLocalWaitersQueue checks that waiters reserve tokens in turn: the second waits 200ms.
func TestLocalWaitersQueue(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := ratelimit.NewLocal(10, 1, ratelimit.WithClock(clk))
	if d, err := l.Take(context.Background(), 0); err != nil || !d.Allowed {
		t.Fatalf("first take: %+v %v", d, err)
	}
	got := make(chan int, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := l.Take(context.Background(), time.Second); err != nil || !d.Allowed {
				t.Errorf("waiter %d: %+v %v", i, d, err)
			}
			got <- i
		}()
		clk.BlockUntil(i + 1)
	}
	clk.Advance(100 * time.Millisecond)
	first := <-got
	select {
	case w := <-got:
		t.Fatalf("both waiters admitted at 100ms (%d, %d)", first, w)
	default:
	}
	if first != 0 {
		t.Errorf("first admitted = %d, want 0", first)
	}
	clk.Advance(100 * time.Millisecond)
	<-got
	wg.Wait()
}

// TestLocalConcurrent takes from many goroutines at once: exactly the burst is granted.
func TestLocalConcurrent(t *testing.T) {
	clk := clocktest.New(time.Time{})
	const burst, workers, each = 50, 16, 20
	l := ratelimit.NewLocal(0.001, burst, ratelimit.WithClock(clk))
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if d, _ := l.Take(context.Background(), 0); d.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != burst {
		t.Errorf("allowed %d tokens, want %d", got, burst)
	}
}

func TestRegistry(t *testing.T) {
	reg := ratelimit.NewRegistry()
	ml := ratelimit.Config{Rate: 5, Shared: "ml"}
	a, err := reg.Local(ml)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cfg      ratelimit.Config
		wantSame bool
		wantErr  error
	}{
		{name: "same shared name and settings", cfg: ratelimit.Config{Rate: 5, Burst: 5, Shared: "ml", MaxWait: time.Second}, wantSame: true},
		{name: "other rate", cfg: ratelimit.Config{Rate: 6, Shared: "ml"}, wantErr: ratelimit.ErrSharedConflict},
		{name: "other burst", cfg: ratelimit.Config{Rate: 5, Burst: 1, Shared: "ml"}, wantErr: ratelimit.ErrSharedConflict},
		{name: "other name", cfg: ratelimit.Config{Rate: 5, Shared: "ocr"}},
		{name: "not shared", cfg: ratelimit.Config{Rate: 5}},
		{name: "invalid", cfg: ratelimit.Config{Rate: -1, Shared: "ml"}, wantErr: errors.New("any")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := reg.Local(tt.cfg)
			if (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Local err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == ratelimit.ErrSharedConflict && !errors.Is(err, ratelimit.ErrSharedConflict) {
				t.Fatalf("err = %v, want ErrSharedConflict", err)
			}
			if err == nil && (b == a) != tt.wantSame {
				t.Errorf("same bucket = %v, want %v", b == a, tt.wantSame)
			}
		})
	}
}

// TestHotPathAllocs: a token taken from a Local limiter, by Take, by a policy's Allow and by
// its unary interceptor around a call that does nothing, allocates nothing.
func TestHotPathAllocs(t *testing.T) {
	ctx := context.Background()
	l := ratelimit.NewLocal(1e9, 1e9)
	p, err := ratelimit.New(svc, l, ratelimit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ic := p.Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"Local.Take", func() {
			if d, err := l.Take(ctx, 0); err != nil || !d.Allowed {
				t.Fatalf("Take = %+v, %v; want a token", d, err)
			}
		}},
		{"Policy.Allow", func() {
			if err := p.Allow(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{"Unary", func() {
			if err := ic(ctx, testkit.MethodCompare, nil, nil, nil, invoker); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		if n := testing.AllocsPerRun(200, tt.f); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", tt.name, n)
		}
	}
}
