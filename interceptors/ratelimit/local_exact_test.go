package ratelimit_test

import (
	"context"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// exactGCRA is the token bucket in exact arithmetic, the model Local rounds: its state is the
// time at which it is full again (tat), in nanoseconds since it was made, as a rational; a
// take at t is allowed when its token is due less than a nanosecond after t, as x/time/rate
// allows it (it truncates the wait to whole nanoseconds).
type exactGCRA struct {
	interval, span *big.Rat // nanoseconds a token, and burst of them
	tat, t         *big.Rat
}

func newExactGCRA(r float64, burst int) *exactGCRA {
	interval := new(big.Rat).Quo(big.NewRat(1e9, 1), new(big.Rat).SetFloat64(r))
	return &exactGCRA{
		interval: interval,
		span:     new(big.Rat).Mul(interval, big.NewRat(int64(burst), 1)),
		tat:      new(big.Rat),
		t:        new(big.Rat),
	}
}

// take advances the model's time by d and takes a token; it returns whether it was allowed and
// how long after t the token is due (negative: it was due before), in nanoseconds.
func (e *exactGCRA) take(d time.Duration) (allowed bool, wait float64) {
	e.t.Add(e.t, new(big.Rat).SetInt64(int64(d)))
	next := new(big.Rat).Set(e.tat)
	if e.t.Cmp(next) > 0 {
		next.Set(e.t)
	}
	next.Add(next, e.interval)
	w := new(big.Rat).Sub(next, e.span)
	w.Sub(w, e.t)
	wait, _ = w.Float64()
	if w.Cmp(big.NewRat(1, 1)) < 0 {
		e.tat = next
		return true, wait
	}
	return false, wait
}

// TestLocalMatchesExactGCRAAtAnyRate drives Local and the exact model with seeded random
// rates over the whole range Config takes (one call per century to 1e9 per second), bursts
// from 1 to 1e9, and random times over up to 36 years (a bucket refills for 73). Local's times are ticks (see Local): a
// nanosecond or less, or longer for a bucket that takes over 2^60ns to fill, whose token is
// then 2^60/burst ticks. It must answer as the model does, but for a token due within a
// nanosecond and a tick of the take (a tie: both start anew), and report as RetryAfter the
// model's wait rounded up, within a tick and a nanosecond, and float error (a few parts in 1e16
// of the time since the bucket was made and of the wait).
func TestLocalMatchesExactGCRAAtAnyRate(t *testing.T) {
	const configs, steps = 300, 150
	rnd := rand.New(rand.NewPCG(2026, 12))
	takes, ties := 0, 0
	for range configs {
		r := math.Exp(math.Log(ratelimit.MinRate) + rnd.Float64()*(math.Log(1e9)-math.Log(ratelimit.MinRate)))
		if rnd.IntN(4) == 0 {
			r = max(1, math.Round(r))
		}
		burst := []int{1, 1 + rnd.IntN(10), 1 + rnd.IntN(1e9)}[rnd.IntN(3)]
		interval := 1e9 / r
		per := max(1, float64((1<<60)/burst))
		per = min(per, math.Ceil(interval))
		tick := interval / per
		clk := clocktest.New(time.Unix(1700000000, 0))
		var l *ratelimit.Local
		var ref *exactGCRA
		restart := func() {
			l = ratelimit.NewLocal(r, burst, ratelimit.WithClock(clk))
			ref = newExactGCRA(r, burst)
		}
		restart()
		var elapsed time.Duration
		for i := range steps {
			var d time.Duration
			switch k := rnd.IntN(10); {
			case k < 2:
			case k < 4:
				d = time.Duration(1 + rnd.IntN(3))
			case k < 8:
				d = time.Duration(min(rnd.Float64()*2*interval, 1<<55))
			default:
				d = time.Duration(min(rnd.Float64()*float64(burst+2)*interval, 1<<55))
			}
			if elapsed+d >= 1<<60 { // a bucket refills until 2^61ns (73 years) after it was made
				break
			}
			clk.Advance(d)
			elapsed += d
			got, err := l.Take(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			takes++
			want, wait := ref.take(d)
			if got.Allowed != want {
				if wait > 0 && wait < 1+tick+1e-15*float64(elapsed) {
					ties++
					restart()
					elapsed = 0
					continue
				}
				t.Fatalf("rate %v burst %d, take %d: Allowed %v, exact %v (its token due in %.3fns)", r, burst, i, got.Allowed, want, wait)
			}
			if want {
				continue
			}
			if got.RetryAfter <= 0 {
				t.Fatalf("rate %v burst %d, take %d: refused with RetryAfter %v", r, burst, i, got.RetryAfter)
			}
			if diff := float64(got.RetryAfter) - math.Ceil(wait); math.Abs(diff) > 1+tick+1e-15*(float64(elapsed)+math.Abs(wait)) {
				t.Fatalf("rate %v burst %d, take %d, %v on: RetryAfter %v, exact wait %.3fns (tick %.3gns)", r, burst, i, elapsed, got.RetryAfter, wait, tick)
			}
		}
	}
	if ties > takes/100 {
		t.Errorf("%d ties in %d takes, want a few", ties, takes)
	}
	t.Logf("%d ties in %d takes", ties, takes)
}
