package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
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
		// The token due at the deadline would leave the call no time (it waited, and then
		// the timer and the deadline fired together).
		{name: "token at the deadline", maxWait: time.Second, deadline: 100 * time.Millisecond, wantRetryAfter: 100 * time.Millisecond},
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
			r := within.Recv(t, done, "Take did not return")
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
	first := within.Recv(t, got, "no waiter was admitted at 100ms")
	select {
	case w := <-got:
		t.Fatalf("both waiters admitted at 100ms (%d, %d)", first, w)
	default:
	}
	if first != 0 {
		t.Errorf("first admitted = %d, want 0", first)
	}
	clk.Advance(100 * time.Millisecond)
	within.Recv(t, got, "the second waiter was not admitted at 200ms")
	within.Wait(t, &wg, "the admitted waiters did not return")
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

// A configuration that changes a shared bucket's settings replaces the bucket, once: its other
// users in the same configuration share the new one, and asking for the old settings in that
// configuration is a conflict again.
func TestRegistryReconfigure(t *testing.T) {
	reg := ratelimit.NewRegistry()
	old, err := reg.Local(ratelimit.Config{Rate: 10, Shared: "b"})
	if err != nil {
		t.Fatal(err)
	}
	reg.Reconfigure()
	first, err := reg.Local(ratelimit.Config{Rate: 20, Shared: "b"})
	if err != nil || first == old || first.Rate() != 20 {
		t.Fatalf("after Reconfigure, rate 20: %v (same bucket %v), want a new bucket at 20/s", err, first == old)
	}
	if second, err := reg.Local(ratelimit.Config{Rate: 20, Shared: "b"}); err != nil || second != first {
		t.Fatalf("second user of the new settings: %v (same bucket %v), want the new bucket", err, second == first)
	}
	if _, err := reg.Local(ratelimit.Config{Rate: 10, Shared: "b"}); !errors.Is(err, ratelimit.ErrSharedConflict) {
		t.Fatalf("old settings in the same configuration: %v, want ErrSharedConflict", err)
	}
	reg.Reconfigure()
	if same, err := reg.Local(ratelimit.Config{Rate: 20, Shared: "b"}); err != nil || same != first {
		t.Fatalf("unchanged settings after Reconfigure: %v (same bucket %v), want the bucket kept", err, same == first)
	}
	var none *ratelimit.Registry
	none.Reconfigure() // a suite without a registry
}

// A caller whose context has ended takes no token; a rate so low that the wait overflows a
// Duration is refused by Validate, and a bucket built at such a rate anyway reports the
// longest wait, not a negative one.
func TestTakeEdges(t *testing.T) {
	clk := clocktest.New(time.Unix(1700000000, 0))
	l := ratelimit.NewLocal(1, 1, ratelimit.WithClock(clk))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d, err := l.Take(ctx, 0); !errors.Is(err, context.Canceled) || d.Allowed {
		t.Fatalf("canceled caller: %+v, %v; want context.Canceled", d, err)
	}
	if d, err := l.Take(context.Background(), 0); err != nil || !d.Allowed {
		t.Fatalf("next caller: %+v, %v; want the token the canceled one left", d, err)
	}

	if err := (ratelimit.Config{Rate: 1e-12}).Validate(); err == nil || !strings.Contains(err.Error(), "rate: 1e-12 is below one call per century") {
		t.Fatalf("Validate(rate 1e-12) = %v, want it refused", err)
	}
	tiny := ratelimit.NewLocal(1e-12, 1, ratelimit.WithClock(clk))
	tiny.Take(context.Background(), 0) //nolint:errcheck // the one token
	if d, err := tiny.Take(context.Background(), 0); err != nil || d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("second take at 1e-12/s = %+v, %v; want refused with a positive RetryAfter", d, err)
	}
	if _, err := ratelimit.New("kyc.v1.OCRService", ratelimit.NewLocal(10, 10), ratelimit.Config{Rate: 10, MaxWait: -250 * time.Millisecond}); err == nil || err.Error() != "max_wait: -250ms is negative" {
		t.Fatalf("New with max_wait -250ms: %v, want the field, value and rule", err)
	}
}

// Two calls that read the clock in one order and reach the bucket in the other do not refill
// the span between the readings twice (EnterAt takes the call's start): 50ms at 1000/s after a
// drained burst of 100 admits 50 calls, not 60.
func TestEnterAtEarlierTimeDoesNotRefillTwice(t *testing.T) {
	clk, t0, enter, admitted := drainedAt(t, 1000, 100)
	clk.Advance(50 * time.Millisecond)
	enter(t0.Add(50 * time.Millisecond)) // B read the clock last and enters first
	enter(t0.Add(40 * time.Millisecond)) // A read it 10ms earlier
	for range 200 {
		enter(t0.Add(50 * time.Millisecond))
	}
	if *admitted != 150 {
		t.Fatalf("%d calls admitted in 50ms at 1000/s with a burst of 100, want 150", *admitted)
	}
}

// drainedAt returns a fake clock at t0 and a function that enters a limiter policy of rate
// and burst at a given time, counting the calls admitted, once it has admitted burst calls at
// t0 (the count includes them).
func drainedAt(t *testing.T, rate float64, burst int) (clk *clocktest.Fake, t0 time.Time, enter func(time.Time), admitted *int) {
	t.Helper()
	t0 = time.Unix(1700000000, 0)
	clk = clocktest.New(t0)
	p, err := ratelimit.New("kyc.v1.OCRService", nil, ratelimit.Config{Rate: rate, Burst: burst}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	admitted = new(int)
	enter = func(now time.Time) {
		if _, err := p.EnterAt(context.Background(), "/kyc.v1.OCRService/Extract", nil, now); err == nil {
			*admitted++
		}
	}
	for range burst {
		enter(t0)
	}
	return clk, t0, enter, admitted
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

// A fleet-wide limit above MaxFleetRate is refused by Validate, naming the field, the value and
// the rule, so that a configuration no fleet-wide limiter could serve does not load; the same
// rate is a local bucket's to take.
func TestValidateFleetRate(t *testing.T) {
	redis := &ratelimit.RedisConfig{Addr: "r:6379"}
	if err := (ratelimit.Config{Rate: ratelimit.MaxFleetRate, Redis: redis}).Validate(); err != nil {
		t.Fatalf("Validate(fleet-wide rate 1e6) = %v, want nil", err)
	}
	err := (ratelimit.Config{Rate: 2e6, Redis: redis}).Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "rate: 2e+06 is above 1e6, the highest fleet-wide rate") {
		t.Fatalf("Validate(fleet-wide rate 2e6) = %v, want it refused", err)
	}
	if err := (ratelimit.Config{Rate: 2e6}).Validate(); err != nil {
		t.Fatalf("Validate(local rate 2e6) = %v, want nil", err)
	}
	if err := (ratelimit.Config{Rate: 2e9, Redis: redis}).Validate(); err == nil || err.Error() != "rate: 2e+09 is above 1e9" {
		t.Fatalf("Validate(fleet-wide rate 2e9) = %v, want the one rule that is broken first", err)
	}
}

// A rate that is not a number (yaml's .nan) breaks one rule, that it be a positive number of
// calls per second; it is not also "above 1e9".
func TestValidateNaNRate(t *testing.T) {
	err := (ratelimit.Config{Rate: math.NaN()}).Validate()
	if err == nil || err.Error() != "rate: NaN is not a positive number of calls per second" {
		t.Fatalf("Validate(rate NaN) = %v, want the one rule it breaks", err)
	}
}

// A Registry's zero value is empty and ready, as breaker.Registry's is: a shared bucket asked
// of one is made on first use and shared after (it panicked on a nil map).
func TestRegistryZeroValue(t *testing.T) {
	var reg ratelimit.Registry
	cfg := ratelimit.Config{Rate: 5, Shared: "ml"}
	a, err := reg.Local(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := reg.Local(cfg); err != nil || b != a {
		t.Fatalf("second ask: %v (same bucket %v), want the first's bucket", err, b == a)
	}
	reg.Reconfigure()
	if c, err := reg.Local(ratelimit.Config{Rate: 6, Shared: "ml"}); err != nil || c == a {
		t.Fatalf("after Reconfigure, rate 6: %v (same bucket %v), want a new bucket", err, c == a)
	}
}

// A Redis address without a port ("redis:", a port forgotten) or with a port no server listens
// on (0, past 65535) is no host:port a limiter can dial: net.SplitHostPort takes it, but every
// dial fails, so every call of the methods it covers would take the fail mode. Validate
// refuses it as it loads, as it refuses an address without a colon; a port named as in
// /etc/services ("redis") is dialable and kept.
func TestValidateRedisAddrPort(t *testing.T) {
	for _, addr := range []string{"redis:", ":", "10.0.0.1:0", "redis:65536", "redis:-1", "[::1]:"} {
		err := (ratelimit.Config{Rate: 1, Redis: &ratelimit.RedisConfig{Addr: addr}}).Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "redis.addr: ") || !strings.HasSuffix(err.Error(), " is not host:port") {
			t.Errorf("Validate(redis.addr %q) = %v, want it refused as not host:port", addr, err)
		}
	}
	for _, addr := range []string{"redis:6379", ":6379", "[::1]:6379", "localhost:redis", "r:65535"} {
		if err := (ratelimit.Config{Rate: 1, Redis: &ratelimit.RedisConfig{Addr: addr}}).Validate(); err != nil {
			t.Errorf("Validate(redis.addr %q) = %v, want nil", addr, err)
		}
	}
}

// A rate of +Inf (a Go caller's math.Inf; YAML's .inf is refused as it is read) breaks one
// rule, that it be a positive number of calls per second: it is not also "above 1e9". -Inf
// breaks that rule alone too.
func TestValidateInfiniteRate(t *testing.T) {
	for _, tt := range []struct {
		rate float64
		want string
	}{
		{math.Inf(1), "rate: +Inf is not a positive number of calls per second"},
		{math.Inf(-1), "rate: -Inf is not a positive number of calls per second"},
	} {
		if err := (ratelimit.Config{Rate: tt.rate}).Validate(); err == nil || err.Error() != tt.want {
			t.Errorf("Validate(rate %v) = %v, want the one rule it breaks: %q", tt.rate, err, tt.want)
		}
	}
}
