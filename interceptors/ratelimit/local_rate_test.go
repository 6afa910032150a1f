package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"golang.org/x/time/rate"
)

// The tests here hold Local to golang.org/x/time/rate's token bucket, the reference its
// arithmetic must match: a take with maxWait 0 is allowed when x/time/rate's AllowN allows it,
// and a refused take's RetryAfter is the time until x/time/rate has a token.

// diffRates and diffBursts are the buckets the differential tests compare.
var (
	diffRates  = []float64{0.5, 3, 10, 1000, 1e6}
	diffBursts = []int{1, 2, 7, 100}
)

// diffPair is a Local and an x/time/rate limiter of the same rate and burst, fed the same
// times by one fake clock.
type diffPair struct {
	rate  float64
	burst int
	clk   *clocktest.Fake
	l     *ratelimit.Local
	ref   *rate.Limiter
	ties  int // takes the two answered differently within the tolerance (see step)
	tick  int // ties whose token x/time/rate had due within the nanosecond, not at its end (±1e-3ns)
	takes int
}

func newDiffPair(r float64, burst int) *diffPair {
	p := &diffPair{rate: r, burst: burst, clk: clocktest.New(time.Unix(1700000000, 0))}
	p.restart()
	return p
}

// restart makes both buckets anew, full, at the clock's time.
func (p *diffPair) restart() {
	p.l = ratelimit.NewLocal(p.rate, p.burst, ratelimit.WithClock(p.clk))
	p.ref = rate.NewLimiter(rate.Limit(p.rate), p.burst)
}

// due is how long until x/time/rate has a whole token, in nanoseconds (0 or less: it has one).
func (p *diffPair) due() float64 {
	return (1 - p.ref.TokensAt(p.clk.Now())) / p.rate * 1e9
}

// step advances the clock by d and takes a token from both buckets with maxWait 0. The answers
// must be the same, with RetryAfters within 1ns, but for one case: x/time/rate forgives a token
// due within a nanosecond (it truncates the wait to whole nanoseconds), and Local, whose times
// are ticks of at most a nanosecond, may refuse one due in the last tick of that nanosecond;
// float rounding in x/time/rate can move a token due exactly 1ns away to either side. Such a
// take is a tie: both buckets are made anew, since they now hold different tokens. Ties of the
// first kind (tick ties) need a rate whose token is not a whole number of nanoseconds.
func (p *diffPair) step(t testing.TB, d time.Duration) {
	t.Helper()
	p.clk.Advance(d)
	due := p.due()
	want := p.ref.AllowN(p.clk.Now(), 1)
	got, err := p.l.Take(context.Background(), 0)
	if err != nil {
		t.Fatalf("rate %v burst %d: Take = %v", p.rate, p.burst, err)
	}
	p.takes++
	if got.Allowed != want {
		if due > 0 && due <= 1.001 {
			p.ties++
			if math.Abs(due-1) > 1e-3 {
				p.tick++
			}
			p.restart()
			return
		}
		t.Fatalf("rate %v burst %d after %d takes, %v on: Allowed %v, x/time/rate %v (its next token due in %.6fns)",
			p.rate, p.burst, p.takes, d, got.Allowed, want, due)
	}
	if want {
		if got.RetryAfter != 0 {
			t.Fatalf("rate %v burst %d: allowed with RetryAfter %v", p.rate, p.burst, got.RetryAfter)
		}
		return
	}
	if wantRetry := ceilNanos(due); got.RetryAfter < wantRetry-1 || got.RetryAfter > wantRetry+1 {
		t.Fatalf("rate %v burst %d after %d takes, %v on: RetryAfter %v, want %v±1ns (x/time/rate's token due in %.6fns)",
			p.rate, p.burst, p.takes, d, got.RetryAfter, wantRetry, due)
	}
}

// ceilNanos rounds ns up to a whole nanosecond, as RetryAfter is.
func ceilNanos(ns float64) time.Duration {
	if r := math.Round(ns); math.Abs(ns-r) < 1e-3 {
		return time.Duration(r)
	}
	return time.Duration(math.Ceil(ns))
}

// advance draws how far to move the clock before the next take: nothing, a few nanoseconds,
// up to a few tokens' time, to within nanoseconds of x/time/rate's next token, or a long quiet.
func (p *diffPair) advance(rnd *rand.Rand) time.Duration {
	interval := 1e9 / p.rate
	switch k := rnd.IntN(100); {
	case k < 20:
		return 0
	case k < 35:
		return time.Duration(1 + rnd.IntN(3))
	case k < 60:
		return time.Duration(rnd.Float64() * 2 * interval)
	case k < 85:
		due := p.due()
		if due <= 0 {
			return time.Duration(rnd.IntN(3))
		}
		return max(0, time.Duration(math.Ceil(due))+time.Duration(rnd.IntN(5)-3))
	case k < 97:
		return time.Duration(rnd.Float64() * float64(p.burst+2) * interval)
	default:
		return time.Duration(rnd.Int64N(int64(time.Hour)))
	}
}

// TestLocalMatchesRate drives Local and x/time/rate with the same seeded random times and
// compares every answer (see diffPair.step).
func TestLocalMatchesRate(t *testing.T) {
	const steps = 10000
	for i, r := range diffRates {
		for j, b := range diffBursts {
			rnd := rand.New(rand.NewPCG(uint64(i), uint64(j)))
			p := newDiffPair(r, b)
			for range steps {
				p.step(t, p.advance(rnd))
			}
			if wholeNanos(r) && p.tick > 0 || p.tick > steps/20 || p.ties > steps/10 {
				t.Errorf("rate %v burst %d: %d ties in %d takes, %d of them within the nanosecond; want a few, and none within it for a token of whole nanoseconds",
					r, b, p.ties, steps, p.tick)
			}
			t.Logf("rate %v burst %d: %d ties, %d within the nanosecond", r, b, p.ties, p.tick)
		}
	}
}

// wholeNanos reports whether a token of rate r is a whole number of nanoseconds: then Local's
// ticks are nanoseconds, and it ties with x/time/rate only on a token due exactly 1ns away.
func wholeNanos(r float64) bool { return 1e9/r == math.Trunc(1e9/r) }

// FuzzLocalMatchesRate is TestLocalMatchesRate driven by the fuzzer: the first two bytes pick
// the rate and burst, and each further pair of bytes one advance of the clock and one take,
// up to the first tie.
func FuzzLocalMatchesRate(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 2, 10, 200, 20, 3, 30, 255, 40, 1})
	f.Add([]byte{3, 3, 0, 0, 0, 0, 35, 0, 35, 1, 35, 2, 60, 9})
	f.Add([]byte{4, 1, 25, 1, 25, 2, 70, 70, 1, 1, 99, 99})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		p := newDiffPair(diffRates[int(data[0])%len(diffRates)], diffBursts[int(data[1])%len(diffBursts)])
		interval := 1e9 / p.rate
		for data = data[2:]; len(data) >= 2 && p.ties == 0; data = data[2:] {
			kind, n := data[0], data[1]
			var d time.Duration
			switch kind % 5 {
			case 0: // none
			case 1:
				d = time.Duration(n % 4)
			case 2: // a fraction of a token
				d = time.Duration(float64(n) / 256 * interval)
			case 3: // near x/time/rate's next token
				if due := p.due(); due > 0 {
					d = max(0, time.Duration(math.Ceil(due))+time.Duration(int(n%8)-4))
				}
			case 4: // several tokens
				d = time.Duration(float64(n) / 16 * interval)
			}
			p.step(t, d)
		}
		if wholeNanos(p.rate) && p.tick > 0 {
			t.Fatalf("rate %v burst %d: a tie on a token due within the nanosecond, at a rate of whole nanoseconds", p.rate, p.burst)
		}
	})
}

// TestLocalNoDrift takes a bucket at its full rate for a long time, each take at the RetryAfter
// of the refusal before it, and checks that the last token comes when the rate says: a rate
// that is not a whole number of nanoseconds per token (3/s is 333333333.33ns) must not gain or
// lose the fraction of a nanosecond per token. The burst is 2 so that the bucket never fills:
// a full bucket rightly drops what it refills (a burst of 1 taken at whole nanoseconds loses
// the 0.67ns between a token's due time and the take, in x/time/rate as in Local).
func TestLocalNoDrift(t *testing.T) {
	const tokens = 50000
	for _, r := range []float64{3, 7, 1000.0 / 7, 3e8, 7e8} {
		clk := clocktest.New(time.Unix(1700000000, 0))
		const burst = 2
		l := ratelimit.NewLocal(r, burst, ratelimit.WithClock(clk))
		start := clk.Now()
		for n := 0; n < tokens; {
			d, err := l.Take(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				n++
				continue
			}
			if d.RetryAfter <= 0 {
				t.Fatalf("rate %v: refused with RetryAfter %v", r, d.RetryAfter)
			}
			clk.Advance(d.RetryAfter)
		}
		want := (tokens - burst) * 1e9 / r
		if got := float64(clk.Since(start)); math.Abs(got-want) > 2 {
			t.Errorf("rate %v: token %d came %.1fns after the first, want %.1fns (drift %.1fns)", r, tokens, got, want, got-want)
		}
	}
}

// TestLocalConcurrentFrozen takes from many goroutines at once with the clock stopped: exactly
// the burst is granted, whatever the rate (1e9/s refills a token each nanosecond, and none
// passes while the clock stands still).
func TestLocalConcurrentFrozen(t *testing.T) {
	const workers = 8
	for _, r := range []float64{0, 3, 1000, 1e9} {
		for _, burst := range []int{1, 7, 100} {
			clk := clocktest.New(time.Unix(1700000000, 0))
			l := ratelimit.NewLocal(r, burst, ratelimit.WithClock(clk))
			clk.Advance(time.Hour) // a bucket of some age, full
			var allowed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range workers {
				wg.Go(func() {
					<-start
					for range 2*burst + 2 {
						if d, _ := l.Take(context.Background(), 0); d.Allowed {
							allowed.Add(1)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			if got := allowed.Load(); got != int64(burst) {
				t.Errorf("rate %v burst %d: %d tokens granted, want %d", r, burst, got, burst)
			}
			if got := l.Tokens(); got != 0 {
				t.Errorf("rate %v burst %d: Tokens() = %v after the burst, want 0", r, burst, got)
			}
		}
	}
}

// waitResult is what a Take that may wait returned.
type waitResult struct {
	d   ratelimit.Decision
	err error
}

// startWait takes from l in a goroutine with maxWait and waits until its timer is set (timers
// counts the clock's timers once it is).
func startWait(ctx context.Context, clk *clocktest.Fake, l *ratelimit.Local, maxWait time.Duration, timers int) <-chan waitResult {
	done := make(chan waitResult, 1)
	go func() {
		d, err := l.Take(ctx, maxWait)
		done <- waitResult{d, err}
	}()
	clk.BlockUntil(timers)
	return done
}

// TestLocalCancelGivesTokenBack: a waiter whose context ends gives its token back, as
// x/time/rate's CancelAt does: the bucket holds what it held before the wait.
func TestLocalCancelGivesTokenBack(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := ratelimit.NewLocal(10, 1, ratelimit.WithClock(clk))
	if d, _ := l.Take(context.Background(), 0); !d.Allowed {
		t.Fatal("first token refused")
	}
	if got := l.Tokens(); got != 0 {
		t.Fatalf("Tokens() = %v after the only token, want 0", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := startWait(ctx, clk, l, time.Second, 1)
	if got := l.Tokens(); got != -1 {
		t.Fatalf("Tokens() = %v while a waiter holds the next token, want -1", got)
	}
	clk.Advance(40 * time.Millisecond)
	cancel()
	if r := within.Recv(t, done, "the canceled waiter did not return"); !errors.Is(r.err, context.Canceled) || r.d.Allowed {
		t.Fatalf("canceled waiter: %+v, %v; want context.Canceled", r.d, r.err)
	}
	if got := l.Tokens(); math.Abs(got-0.4) > 1e-9 {
		t.Fatalf("Tokens() = %v after the waiter gave its token back 40ms on, want 0.4", got)
	}
	clk.Advance(60 * time.Millisecond)
	if d, _ := l.Take(context.Background(), 0); !d.Allowed {
		t.Fatalf("token given back not there at 100ms: %+v", d)
	}
	if d, _ := l.Take(context.Background(), 0); d.Allowed || d.RetryAfter != 100*time.Millisecond {
		t.Fatalf("second take at 100ms = %+v, want refused for 100ms", d)
	}
}

// TestLocalCancelBehindLaterWaiter: a waiter that another reserved after gives nothing back
// (x/time/rate restores a reservation's tokens less those reserved after it); the last waiter
// gives its token back.
func TestLocalCancelBehindLaterWaiter(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := ratelimit.NewLocal(10, 1, ratelimit.WithClock(clk))
	l.Take(context.Background(), 0) //nolint:errcheck // the only token
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	a := startWait(ctxA, clk, l, time.Second, 1) // token at 100ms
	b := startWait(ctxB, clk, l, time.Second, 2) // token at 200ms
	if got := l.Tokens(); got != -2 {
		t.Fatalf("Tokens() = %v with two waiters, want -2", got)
	}
	cancelA()
	if r := within.Recv(t, a, "the canceled first waiter did not return"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("first waiter: %+v, %v; want context.Canceled", r.d, r.err)
	}
	if got := l.Tokens(); got != -2 {
		t.Fatalf("Tokens() = %v after the first waiter left, want -2 (the second reserved after it)", got)
	}
	clk.Advance(100 * time.Millisecond)
	select {
	case r := <-b:
		t.Fatalf("second waiter answered at 100ms: %+v, %v; want it to wait for its token at 200ms", r.d, r.err)
	default:
	}
	cancelB()
	if r := within.Recv(t, b, "the canceled second waiter did not return"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("second waiter: %+v, %v; want context.Canceled", r.d, r.err)
	}
	if got := l.Tokens(); got != 0 {
		t.Fatalf("Tokens() = %v at 100ms after the last waiter gave its token back, want 0", got)
	}
	clk.Advance(100 * time.Millisecond)
	if d, _ := l.Take(context.Background(), 0); !d.Allowed {
		t.Fatalf("take at 200ms = %+v, want the token the last waiter gave back", d)
	}
}

// TestLocalRefusedWaitTakesNothing: a wait longer than maxWait or the context's deadline is
// refused at once, and leaves the bucket as it was.
func TestLocalRefusedWaitTakesNothing(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := ratelimit.NewLocal(10, 1, ratelimit.WithClock(clk))
	l.Take(context.Background(), 0) //nolint:errcheck // the only token
	ctx, cancel := clock.WithTimeout(context.Background(), clk, 50*time.Millisecond)
	defer cancel()
	for _, tt := range []struct {
		name    string
		ctx     context.Context
		maxWait time.Duration
	}{
		{"max wait", context.Background(), 99 * time.Millisecond},
		{"deadline", ctx, time.Second},
	} {
		d, err := l.Take(tt.ctx, tt.maxWait)
		if err != nil || d.Allowed || d.RetryAfter != 100*time.Millisecond {
			t.Fatalf("%s: Take = %+v, %v; want refused with RetryAfter 100ms", tt.name, d, err)
		}
		if got := l.Tokens(); got != 0 {
			t.Fatalf("%s: Tokens() = %v after a refused wait, want 0", tt.name, got)
		}
	}
	if n := clk.Timers(); n != 1 {
		t.Fatalf("%d timers, want only the deadline's: a refused wait sets none", n)
	}
}

// TestEarlierReadingsNeverRefillTwice: calls whose clock readings reach the bucket out of order
// (EnterAt takes the reading of the call's start) get no more tokens than the time between the
// readings refills, however close the readings are: 99µs at 1e6/s after a drained burst admit
// 99 calls, whatever the order of the readings.
func TestEarlierReadingsNeverRefillTwice(t *testing.T) {
	clk, t0, enter, admitted := drainedAt(t, 1e6, 100)
	*admitted = 0
	clk.Advance(99 * time.Microsecond)
	for range 1000 {
		enter(t0.Add(99 * time.Microsecond))
		enter(t0.Add(time.Microsecond))
	}
	if *admitted != 99 {
		t.Fatalf("%d calls admitted in 99µs at 1e6/s after the burst, want 99", *admitted)
	}
}

// TestLocalEdgeRates: buckets at the ends of what NewLocal takes. The slowest valid rate with
// the largest valid burst (a bucket that takes 1e11 years to fill), a rate of 0 (never
// refills, RetryAfter unknown) and a rate above 1e9 (never runs out).
func TestLocalEdgeRates(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Unix(1700000000, 0))

	slow := ratelimit.NewLocal(ratelimit.MinRate, 1, ratelimit.WithClock(clk))
	if d, _ := slow.Take(ctx, 0); !d.Allowed {
		t.Fatalf("slowest rate, first take = %+v", d)
	}
	century := 100 * 365 * 24 * time.Hour
	if d, _ := slow.Take(ctx, 0); d.Allowed || math.Abs(float64(d.RetryAfter-century)) > 1e-9*float64(century) {
		t.Fatalf("slowest rate, second take = %+v, want refused for a century", d)
	}
	deep := ratelimit.NewLocal(ratelimit.MinRate, 1e9, ratelimit.WithClock(clk))
	if got := deep.Tokens(); got != 1e9 {
		t.Fatalf("slowest rate, burst 1e9: Tokens() = %v, want 1e9", got)
	}
	if d, _ := deep.Take(ctx, 0); !d.Allowed || deep.Tokens() != 1e9-1 {
		t.Fatalf("slowest rate, burst 1e9: take = %+v, Tokens() = %v; want a token and 1e9-1 left", d, deep.Tokens())
	}

	never := ratelimit.NewLocal(0, 2, ratelimit.WithClock(clk))
	for i, want := range []bool{true, true, false} {
		if d, _ := never.Take(ctx, 0); d.Allowed != want || d.RetryAfter != 0 {
			t.Fatalf("rate 0, take %d = %+v, want Allowed %v and no RetryAfter", i, d, want)
		}
	}
	clk.Advance(time.Hour)
	if d, _ := never.Take(ctx, time.Second); d.Allowed || d.RetryAfter != 0 {
		t.Fatalf("rate 0, an hour on, waiting = %+v; want refused at once, no RetryAfter", d)
	}

	fast := ratelimit.NewLocal(2e9, 1, ratelimit.WithClock(clk))
	for range 1000 {
		if d, _ := fast.Take(ctx, 0); !d.Allowed {
			t.Fatalf("rate 2e9 with the clock stopped: %+v, want every take allowed", d)
		}
	}
	if got := fast.Tokens(); got != 1 {
		t.Fatalf("rate 2e9: Tokens() = %v, want the burst", got)
	}
}
