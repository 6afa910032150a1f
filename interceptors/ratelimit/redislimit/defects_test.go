package redislimit

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// Regression tests for issue 17 (items 10 and 11).

// redisNow returns Redis's clock in the TAT's unit: seconds since 2017-01-01.
func redisNow(t *testing.T, l *Limiter) float64 {
	t.Helper()
	now, err := l.client.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return float64(now.UnixNano())/1e9 - 1483228800
}

// Item 10: a key whose content is not a TAT (not a number, not finite) is a limiter fault that
// the fail mode answers, once: the key is reset, so the limit is in force again from the next
// Take. (A TAT absurdly far ahead is clamped instead: TestTATFarAheadIsClamped.)
func TestRedisBadStateIsAFaultAndRepaired(t *testing.T) {
	addr := sharedAddr(t)
	for _, failOpen := range []bool{false, true} {
		for _, tt := range []struct {
			name  string
			value func(now float64) string
			list  bool // the key is a list holding the value, not a string
		}{
			{"nan", func(float64) string { return "nan" }, false},
			{"inf", func(float64) string { return "inf" }, false},
			{"garbage", func(float64) string { return "not a time" }, false},
			{"a list", func(now float64) string { return strconv.FormatFloat(now, 'f', -1, 64) }, true},
		} {
			t.Run(tt.name+map[bool]string{false: "/fail closed", true: "/fail open"}[failOpen], func(t *testing.T) {
				cfg := config(addr, prefix(t), 10, 1)
				cfg.Redis.FailOpen = failOpen
				l := testLimiter(t, "ocr", cfg)
				ctx := context.Background()
				var err error
				if v := tt.value(redisNow(t, l)); tt.list {
					err = l.client.RPush(ctx, l.Key(), v).Err()
				} else {
					err = l.client.Set(ctx, l.Key(), v, 0).Err()
				}
				if err != nil {
					t.Fatal(err)
				}

				d, err := l.Take(ctx, 300*time.Millisecond)
				switch {
				case failOpen && (err != nil || !d.Allowed):
					t.Fatalf("fail open on a bad state: %+v, %v; want the local guard's admission", d, err)
				case !failOpen && !errors.Is(err, ErrUnavailable):
					t.Fatalf("fail closed on a bad state: %+v, %v; want ErrUnavailable", d, err)
				}
				if l.Degraded() != 1 || l.trips.Load() != 1 {
					t.Fatalf("bad state: Degraded %d after %d round trips, want 1 and 1", l.Degraded(), l.trips.Load())
				}
				if ttl, err := l.client.PTTL(ctx, l.Key()).Result(); err != nil || ttl == -1 {
					t.Fatalf("key left without expiry (PTTL %v, %v)", ttl, err)
				}
				// The limit is in force again: burst 1 at 10/s admits one or two of 20 quick Takes.
				admitted := 0
				for range 20 {
					d, err := l.Take(ctx, 0)
					if err != nil {
						t.Fatalf("Take after repair: %v", err)
					}
					if d.Allowed {
						admitted++
					} else if d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
						t.Fatalf("denial with RetryAfter %v, want within (0, 100ms]", d.RetryAfter)
					}
				}
				if admitted < 1 || admitted > 3 {
					t.Fatalf("after repair %d of 20 Takes admitted, want 1 to 3", admitted)
				}
				if l.Degraded() != 1 {
					t.Fatalf("Degraded %d after repair, want still 1", l.Degraded())
				}
			})
		}
	}
}

// Item 10: a long but valid wait is reported, never overflowed to 0, and waiting for it does
// not spin on Redis.
func TestRedisLongWaitNeverSpins(t *testing.T) {
	cfg := config(sharedAddr(t), prefix(t), 0.001, 1) // one call per 1000s
	l := testLimiter(t, "ocr", cfg)
	if d := take(t, l); !d.Allowed {
		t.Fatal("first Take denied")
	}
	before := l.trips.Load()
	d, err := l.Take(context.Background(), 300*time.Millisecond)
	if err != nil || d.Allowed || d.RetryAfter < 900*time.Second || d.RetryAfter > 1000*time.Second {
		t.Fatalf("second Take = %+v, %v; want denied with RetryAfter about 1000s", d, err)
	}
	if n := l.trips.Load() - before; n != 1 {
		t.Fatalf("denied Take made %d round trips, want 1", n)
	}
}

func TestRedisWaitDurationNeverOverflows(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration // 0: an error
	}{
		{"0.5", 500 * time.Millisecond},
		{"1e-12", time.Nanosecond},
		{"1000", 1000 * time.Second},
		{"0", 0},
		{"-1", 0},
		{"nan", 0},
		{"inf", 0},
		{"1e300", 0},
		{"9.3e9", 0}, // above a century, and above what a Duration holds
		{"x", 0},
	} {
		got, err := waitDuration(tt.in)
		if tt.want == 0 {
			if !errors.Is(err, errBadState) {
				t.Errorf("waitDuration(%q) = %v, %v; want errBadState", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("waitDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// lateCtx reports a deadline that has passed while its Done channel, like a deadline timer on
// a busy machine, fires later.
type lateCtx struct {
	context.Context
	deadline time.Time
}

func (c lateCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Item 11: the round trip's timeout, when the caller's deadline has passed but its context is
// still live, is a limiter fault: a fail-open policy admits (or reports the caller's own
// context error once it ends), never an Unavailable rejection.
func TestFailOpenNeverRejectsOnRoundTripTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration // the Redis timeout
		doneIn  time.Duration // when the caller's context reports its end
	}{
		{"context ends a moment later", time.Second, 20 * time.Millisecond},
		{"context ends much later", 50 * time.Millisecond, 10 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(sharedAddr(t), prefix(t), 1000, 1000)
			cfg.Redis.FailOpen = true
			cfg.Redis.Timeout = tt.timeout
			l := testLimiter(t, "ocr", cfg)
			p, err := ratelimit.New("kyc.v1.OCRService", l, cfg)
			if err != nil {
				t.Fatal(err)
			}
			take(t, l) // connected
			parent, cancel := context.WithTimeout(context.Background(), tt.doneIn)
			defer cancel()
			ctx := lateCtx{Context: parent, deadline: time.Now().Add(-time.Millisecond)}
			err = p.Allow(ctx)
			callersOwn := parent.Err() != nil && errors.Is(err, parent.Err())
			if err != nil && !callersOwn {
				t.Fatalf("fail-open Allow = %v; want admitted, or the caller's own context error", err)
			}
		})
	}
}
