package retry_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
)

// failWith returns an attempt function that fails attempt n with errs[n-1] (the last one
// for later attempts) and counts the attempts.
func failWith(attempts *int, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*attempts++
		return errs[min(*attempts, len(errs))-1]
	}
}

// TestBackoffRestartsAfterPushback is the regression test of issue 17 item 3: after a
// pushback-directed sleep the next backoff restarts from the initial backoff (gRFC A6). The
// old code went on with the schedule (100, 50, 400, 800) and, with decorrelated jitter, took
// the pushback as "the previous sleep".
func TestBackoffRestartsAfterPushback(t *testing.T) {
	unavailable := testkit.Status(grpccodes.Unavailable, "")
	tests := []struct {
		name   string
		jitter retry.Jitter
		push   time.Duration
		want   []time.Duration
	}{
		{"none", retry.JitterNone, 50 * time.Millisecond, ms(100, 50, 100, 200)},
		// U(100ms, 3·prev) at 0.5: 200 after the first failure; after a 5s pushback the next
		// sleep is again drawn from U(100ms, 300ms), not U(100ms, 15s).
		{"decorrelated", retry.JitterDecorrelated, 5 * time.Second, ms(200, 5000, 200, 350)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := retry.Config{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 20 * time.Second,
				Multiplier: 2, Jitter: tt.jitter, Idempotent: true}
			s := newSetup(t, cfg, 0)
			var n int
			var info retry.Info
			_ = s.p.Do(context.Background(), testkit.MethodCompare,
				failWith(&n, unavailable, testkit.Throttled(tt.push), unavailable), retry.Report(&info))
			s.drv.stop()
			if got := s.delays(); !slices.Equal(got, tt.want) {
				t.Fatalf("delays = %v, want %v", got, tt.want)
			}
			if n != 5 || info.Attempts != 5 {
				t.Fatalf("attempts = %d (info %+v), want 5", n, info)
			}
		})
	}
}

// mlRetry is the built-in ml profile's schedule: 4 attempts, 1s·2ⁿ + U(0, 3s) up to 20s, in
// the 8s budget.
func mlRetry(fit bool) retry.Config {
	return retry.Config{MaxAttempts: 4, InitialBackoff: time.Second, MaxBackoff: 20 * time.Second, Multiplier: 2,
		Jitter: retry.JitterAdditive, JitterAmount: 3 * time.Second, Budget: 8 * time.Second, Idempotent: true,
		FitSchedule: fit}
}

// TestFitScheduleExactSleeps: with attempts that fail at once and the random source at 0.5,
// the nominal sleeps would be 2.5s, 3.5s and 5.5s; fitted to the 8s budget each is scaled by
// cap/upper, where cap = remaining/(2·attempts left) and upper is the longest draw:
//
//	sleep 1: cap 8s/6 = 1.333333333s, upper 4s: 2.5s·cap/4s
//	sleep 2: remaining 7.166666667s, cap /4, upper 5s: 3.5s·cap/5s
//	sleep 3: remaining 5.912500001s, cap /2, upper 7s: 5.5s·cap/7s
func TestFitScheduleExactSleeps(t *testing.T) {
	s := newSetup(t, mlRetry(true), 0)
	var n int
	var info retry.Info
	_ = s.p.Do(context.Background(), testkit.MethodCompare, failWith(&n, testkit.Status(grpccodes.Unavailable, "")), retry.Report(&info))
	s.drv.stop()
	want := []time.Duration{833333333, 1254166666, 2322767857}
	if got := s.delays(); !slices.Equal(got, want) {
		t.Fatalf("delays = %v, want %v", got, want)
	}
	if n != 4 || info.Attempts != 4 || info.Elapsed != 833333333+1254166666+2322767857 {
		t.Fatalf("attempts %d, info %+v: want all 4 attempts", n, info)
	}

	// The nominal schedule in the same conditions: 2.5s and 3.5s, then 5.5s would end past the
	// budget, so attempt 4 never runs.
	s = newSetup(t, mlRetry(false), 0)
	n = 0
	_ = s.p.Do(context.Background(), testkit.MethodCompare, failWith(&n, testkit.Status(grpccodes.Unavailable, "")), retry.Report(&info))
	s.drv.stop()
	if got := s.delays(); !slices.Equal(got, ms(2500, 3500)) || n != 3 {
		t.Fatalf("nominal: delays %v, %d attempts; want [2.5s 3.5s], 3 attempts", got, n)
	}
}

// TestFitScheduleAllAttemptsRun: for the ml schedule and attempts that fail fast (10ms each),
// every configured attempt runs within the 8s budget, whatever the jitter draws (500 seeds),
// where the nominal schedule runs all four only when the three draws are all small (1s + 2s +
// 4s leave 1s of jitter in all: about 1 run in 100).
func TestFitScheduleAllAttemptsRun(t *testing.T) {
	for _, fit := range []bool{true, false} {
		full := 0
		for seed := range uint64(500) {
			r := rand.New(rand.NewPCG(seed, 15))
			var mu sync.Mutex
			rnd := func() float64 { mu.Lock(); defer mu.Unlock(); return r.Float64() }
			s := newSetup(t, mlRetry(fit), 0, retry.WithRand(rnd))
			var n int
			var info retry.Info
			_ = s.p.Do(context.Background(), testkit.MethodCompare, func(ctx context.Context) error {
				n++
				s.clk.Advance(10 * time.Millisecond) // the attempt's own time
				return testkit.Status(grpccodes.Unavailable, "")
			}, retry.Report(&info))
			s.drv.stop()
			if info.Elapsed > 8*time.Second {
				t.Fatalf("fit=%v seed %d: elapsed %v beyond the budget", fit, seed, info.Elapsed)
			}
			if n == 4 {
				full++
			}
			if fit && (n != 4 || info.Reason != "max_attempts") {
				t.Fatalf("seed %d: %d attempts, info %+v; want 4 attempts, max_attempts", seed, n, info)
			}
		}
		if !fit && full > 25 {
			t.Fatalf("nominal schedule: %d of 500 runs made 4 attempts, want at most 25", full)
		}
	}
}

// TestFitScheduleSlowAttempts: when the attempts themselves eat the budget the fitted sleeps
// shrink with it, and no sleep is begun that leaves less than MinAttemptTime.
func TestFitScheduleSlowAttempts(t *testing.T) {
	s := newSetup(t, mlRetry(true), 0)
	var n int
	var info retry.Info
	_ = s.p.Do(context.Background(), testkit.MethodCompare, func(ctx context.Context) error {
		n++
		s.clk.Advance(3 * time.Second) // every attempt times out at ml's 3s
		return testkit.Status(grpccodes.DeadlineExceeded, "")
	}, retry.Report(&info))
	s.drv.stop()
	// After attempt 1 (3s): cap 5s/6 = 833.333333ms, 2.5s·cap/4s = 520.833333ms. After attempt
	// 2 (at 6.520833333s): cap 1.479166667s/4 = 369.791666ms, 3.5s·cap/5s = 258.854166ms;
	// attempt 3 starts at 6.779687499s and is cut by the budget.
	want := []time.Duration{520833333, 258854166}
	if got := s.delays(); !slices.Equal(got, want) || n != 3 {
		t.Fatalf("delays %v, %d attempts; want %v, 3 attempts", got, n, want)
	}
	if info.Elapsed > 8*time.Second+3*time.Second {
		t.Fatalf("elapsed %v", info.Elapsed)
	}
}

// TestFitScheduleCapsFollowTheDraws: the fitted caps 1.33s, 1.67s and 2.5s of the package
// documentation's ml example are those after the longest draws; a short first sleep leaves more
// time, and the next cap grows with it (the documentation called them the most the sleeps could
// be). What holds whatever the draws is that the last attempt keeps at least 2.5s.
func TestFitScheduleCapsFollowTheDraws(t *testing.T) {
	s := newSetup(t, mlRetry(true), 0, retry.WithRand(seq(0, 0.999, 0.999)))
	var n int
	_ = s.p.Do(context.Background(), testkit.MethodCompare, func(ctx context.Context) error {
		n++
		return testkit.Status(grpccodes.Unavailable, "")
	})
	s.drv.stop()
	d := s.delays()
	if n != 4 || len(d) != 3 {
		t.Fatalf("%d attempts, sleeps %v; want 4 attempts", n, d)
	}
	// 1s·(4/3s)/4s; then cap (8s-333ms)/4 = 1.917s, 4.997s scaled by cap/5s.
	if d[0] != 333333333 || d[1] <= 1900*time.Millisecond {
		t.Fatalf("sleeps %v; want 333.333333ms, then above 1.9s", d)
	}
	if left := 8*time.Second - (d[0] + d[1] + d[2]); left < 2500*time.Millisecond {
		t.Fatalf("sleeps %v leave the last attempt %v, want at least 2.5s", d, left)
	}
}
