package retry

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestBudgetWithdraw(t *testing.T) {
	p, err := New(Config{Throttle: RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Budget("kyc.v1.OCRService")
	if b == nil || b != p.Budget("kyc.v1.OCRService") {
		t.Fatal("Budget: want one shared bucket per service")
	}
	if p.Budget("kyc.v1.FaceMatchService") == b {
		t.Fatal("Budget: services share a bucket")
	}
	// 10 tokens, threshold 5: five withdrawals succeed (10 → 5), the sixth is refused.
	for i := range 5 {
		if !b.Withdraw() {
			t.Fatalf("withdrawal %d refused with %v tokens", i+1, b.Tokens())
		}
	}
	if b.Withdraw() || b.Allow() {
		t.Fatalf("at %v tokens (half): Withdraw or Allow said yes", b.Tokens())
	}
	// One success pays back 0.5 tokens: one more withdrawal is allowed, then none.
	b.Record(codes.Verdict{Class: codes.Success})
	if got := b.Tokens(); got != 5.5 {
		t.Fatalf("tokens after a success = %v, want 5.5", got)
	}
	if !b.Withdraw() || b.Withdraw() {
		t.Fatal("after one success: want exactly one withdrawal")
	}
	// Business outcomes leave the bucket alone; failures take a token.
	b.Record(codes.Verdict{Class: codes.Business})
	b.Record(codes.Verdict{Class: codes.Transient})
	if got := b.Tokens(); got != 3.5 {
		t.Fatalf("tokens = %v, want 3.5", got)
	}
	// The retries of calls through the policy see the same bucket.
	if got := p.method("/kyc.v1.OCRService/Extract").bucket; got != b {
		t.Fatal("calls use another bucket than Budget returns")
	}
}

func TestBudgetOff(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Budget("kyc.v1.OCRService") != nil {
		t.Fatal("Budget with throttling off: want nil")
	}
}

func TestBudgetWithdrawAllocs(t *testing.T) {
	p, _ := New(Config{Throttle: RetryBudgetConfig{MaxTokens: 1000}})
	b := p.Budget("s")
	if n := testing.AllocsPerRun(100, func() { b.Withdraw(); b.Record(codes.Verdict{Class: codes.Success}) }); n != 0 {
		t.Fatalf("Withdraw+Record: %v allocs, want 0", n)
	}
}

func ratioBudget(t testing.TB, th RetryBudgetConfig) (*RetryBudget, *clocktest.Fake) {
	clk := clocktest.New(time.Unix(1e9, 0))
	p, err := New(Config{Throttle: th}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return p.Budget("kyc.v1.LivenessService"), clk
}

// TestRatioBudgetBurst: a burst of 32 concurrent first failures on a cold budget finds its own
// deposits and the floor (issue 15): with Ratio 0.6 and 2/s over 10s, 32 calls allow
// 0.6·32 + 20 = 39.2 retries, so 39, where the A6 bucket of the old built-ins (10 tokens,
// retries above 5) allowed none once 5 of them had failed.
func TestRatioBudgetBurst(t *testing.T) {
	b, clk := ratioBudget(t, RetryBudgetConfig{Ratio: 0.6, MinPerSecond: 2, Window: 10 * time.Second})
	if got := b.Tokens(); got != 20 {
		t.Fatalf("cold budget holds %v retries, want the floor 20", got)
	}
	for range 32 {
		b.record(codes.Verdict{Class: codes.Transient}, true, time.Time{})
	}
	for i := range 39 {
		if !b.Allow() {
			t.Fatalf("retry %d refused, %v left", i+1, b.Tokens())
		}
	}
	if b.Allow() || b.Withdraw() {
		t.Fatalf("retry 40 allowed; %v left", b.Tokens())
	}
	// Retries are not calls: their outcomes deposit nothing.
	b.record(codes.Verdict{Class: codes.Success}, false, time.Time{})
	if b.Withdraw() {
		t.Fatal("a retry's success paid for another retry")
	}
	// Rejections and cancellations never reached the service: they are not calls either.
	b.Record(codes.Verdict{Class: codes.Rejected})
	b.Record(codes.Verdict{Class: codes.Canceled})
	if b.Withdraw() {
		t.Fatal("a rejected or canceled call paid for a retry")
	}
	// Business answers are calls: two give 1.2 more, which with the 0.2 left over make one retry.
	b.Record(codes.Verdict{Class: codes.Business})
	if b.Withdraw() {
		t.Fatal("0.8 of a retry allowed one")
	}
	b.Record(codes.Verdict{Class: codes.Business})
	if !b.Withdraw() || b.Withdraw() {
		t.Fatal("after one more call: want exactly one more retry")
	}
	// Counts leave the window a tenth at a time; after a whole window the floor is back.
	clk.Advance(9 * time.Second)
	if b.Withdraw() {
		t.Fatal("9s later: the burst is still in the window")
	}
	clk.Advance(time.Second)
	if got := b.Tokens(); got != 20 {
		t.Fatalf("a window later: %v retries, want 20", got)
	}
}

// simulate drives calls of up to attempts attempts at rate calls per second (fake clock)
// against a service that fails each attempt with probability f, retrying as the budget
// allows, and returns the attempts sent per call and the share of retries refused. The
// retries of a call are asked for as soon as the attempt fails (the worst case for the
// budget: no backoff spreads them).
func simulate(t *testing.T, b *RetryBudget, clk *clocktest.Fake, f float64, attempts, calls int, rate float64, seed uint64) (perCall, refused float64) {
	r := rand.New(rand.NewPCG(seed, 17))
	var sent, denied, wanted int
	step := time.Duration(float64(time.Second) / rate)
	for range calls {
		clk.Advance(step)
		for n := 1; n <= attempts; n++ {
			sent++
			v := codes.Verdict{Class: codes.Success}
			if r.Float64() < f {
				v.Class = codes.Transient
			}
			b.record(v, n == 1, time.Time{})
			if v.Class == codes.Success || n == attempts {
				break
			}
			wanted++
			if !b.Allow() {
				denied++
				break
			}
		}
	}
	if wanted == 0 {
		return float64(sent) / float64(calls), 0
	}
	return float64(sent) / float64(calls), float64(denied) / float64(wanted)
}

// TestRatioBudgetAmplification checks the amplification bound of the built-in ml budget
// (Ratio 0.6, 2/s, 10s) for 4 attempts per call at 20 calls per second (a closed loop of 32
// callers with seconds of backoff) and 200 per second: at F = 0.2 and 0.3 (expected retries
// per call F+F²+F³ = 0.25 and 0.42) no retry is refused; at F = 0.5 and 1 the attempts per call
// stay within 1 + Ratio + MinPerSecond/rate (≤ 1.7 at 20/s), below 2.
func TestRatioBudgetAmplification(t *testing.T) {
	th := RetryBudgetConfig{Ratio: 0.6, MinPerSecond: 2, Window: 10 * time.Second}
	for _, rate := range []float64{20, 200} {
		for _, f := range []float64{0.1, 0.2, 0.3, 0.5, 0.7, 1} {
			for seed := range uint64(3) {
				b, clk := ratioBudget(t, th)
				perCall, refused := simulate(t, b, clk, f, 4, 5000, rate, seed)
				if seed == 0 {
					t.Logf("rate %v/s F %v: %.3f attempts per call, %.4f of retries refused", rate, f, perCall, refused)
				}
				bound := 1 + th.Ratio + th.MinPerSecond/rate
				if perCall > bound+0.01 || perCall > 2 {
					t.Errorf("rate %v F %v seed %d: %.3f attempts per call, bound %.3f", rate, f, seed, perCall, bound)
				}
				if f <= 0.3 && refused != 0 {
					t.Errorf("rate %v F %v seed %d: %.4f of retries refused, want none", rate, f, seed, refused)
				}
				if f >= 0.5 && perCall < bound-0.15 {
					t.Errorf("rate %v F %v seed %d: %.3f attempts per call, want near %.3f", rate, f, seed, perCall, bound)
				}
			}
		}
	}
}

// TestA6BucketDrainsInABurst documents why the built-ins moved off the A6 bucket: 5 first
// failures (5 of 32 concurrent callers at F = 0.3, before any success) leave it at half, and
// every retry is then refused although 70% of calls succeed.
func TestA6BucketDrainsInABurst(t *testing.T) {
	p, _ := New(Config{Throttle: RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.5}})
	b := p.Budget("s")
	for range 5 {
		b.record(codes.Verdict{Class: codes.Transient}, true, time.Time{})
	}
	if b.Allow() {
		t.Fatalf("A6 bucket at %v tokens after 5 failures still allows retries", b.Tokens())
	}
}

func TestRatioBudgetAllocs(t *testing.T) {
	b, clk := ratioBudget(t, RetryBudgetConfig{Ratio: 0.5})
	n := testing.AllocsPerRun(1000, func() {
		b.Record(codes.Verdict{Class: codes.Success})
		b.record(codes.Verdict{Class: codes.Transient}, true, time.Time{})
		b.Allow()
		b.Withdraw()
		_ = b.Tokens()
		clk.Advance(time.Millisecond)
	})
	if n != 0 {
		t.Fatalf("Record+Allow+Withdraw+Tokens: %v allocs, want 0", n)
	}
}

func BenchmarkBudget(b *testing.B) {
	for _, th := range []RetryBudgetConfig{{MaxTokens: 10, TokenRatio: 0.5}, {Ratio: 0.6, MinPerSecond: 2}} {
		name := "a6"
		if th.Ratio > 0 {
			name = "ratio"
		}
		b.Run(name, func(b *testing.B) {
			p, _ := New(Config{Throttle: th})
			bud := p.Budget("s")
			b.ReportAllocs()
			for b.Loop() {
				bud.Record(codes.Verdict{Class: codes.Success})
				bud.Allow()
				bud.Withdraw()
			}
		})
	}
}

// counted returns the calls and retries a ratio budget counts in its window now.
func (b *RetryBudget) counted() (calls, retries int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sumLocked(b.epochNow())
}

// TestRatioBudgetSlotsRotate pins the window's slots at the edges of epochs (a slot of 1s
// here): a count leaves the window exactly a Window after the start of its slot, a slot
// reused a window later starts from nothing, and after an idle gap of any length, including
// those at which a slot's epoch kept in fewer bits would alias (2^32 slots for a 32-bit epoch,
// 2^33 rounds of 10 slots for a round of 32 or 33 bits, near the longest time.Duration),
// nothing old is counted and the first call counts 1.
func TestRatioBudgetSlotsRotate(t *testing.T) {
	th := RetryBudgetConfig{Ratio: 1, MinPerSecond: 0.1, Window: 10 * time.Second} // floor 1
	b, clk := ratioBudget(t, th)
	base := clk.Now()
	at := func(d time.Duration) { clk.Set(base.Add(d)) }
	want := func(what string, calls, retries int64) {
		t.Helper()
		if got, want := b.Tokens(), max(float64(calls+1-retries), 0); got != want {
			t.Fatalf("%s: Tokens = %v, want %v", what, got, want)
		}
		if c, r := b.counted(); c != calls || r != retries {
			t.Fatalf("%s: %d calls and %d retries counted, want %d and %d", what, c, r, calls, retries)
		}
	}
	ok := codes.Verdict{Class: codes.Success}

	at(time.Second - 1) // the last instant of epoch 0
	b.Record(ok)
	at(time.Second) // the first of epoch 1
	b.Record(ok)
	b.Record(ok)
	if !b.Withdraw() {
		t.Fatal("withdrawal refused with 3 calls counted")
	}
	want("epochs 0 and 1", 3, 1)
	at(10*time.Second - 1)
	want("the last instant of the window that holds epoch 0", 3, 1)
	at(10 * time.Second)
	want("epoch 10: epoch 0 left the window", 2, 1)
	b.Record(ok) // epoch 10 reuses epoch 0's slot
	want("epoch 10's first call", 3, 1)
	at(11*time.Second - 1)
	want("the last instant of the window that holds epoch 1", 3, 1)
	at(11 * time.Second)
	want("epoch 11: epoch 1 left the window, its withdrawal with it", 1, 0)

	// Every slot full, then idle gaps.
	now := 11 * time.Second
	for i := range int64(budgetSlots) {
		at(now + time.Duration(i)*time.Second)
		for range i + 1 {
			b.Record(ok)
		}
	}
	want("every slot of the window full", 55, 0)
	now += 9 * time.Second
	for _, gap := range []struct {
		name string
		d    time.Duration
	}{
		{"a window", 10 * time.Second},
		{"1000 windows and 3 slots", 10003 * time.Second},
		{"2^32 slots (a 32-bit epoch tag aliases)", (1 << 32) * time.Second},
	} {
		b.Record(ok)
		b.Record(ok)
		now += gap.d
		at(now)
		want("after "+gap.name, 0, 0)
		b.Record(ok)
		want("the first call after "+gap.name, 1, 0)
	}

	// The shortest window has the most epochs: 2^33 rounds of 10 slots of 100ms come near the
	// longest time.Duration, and a round tag of 32 or 33 bits would alias there.
	b, clk = ratioBudget(t, RetryBudgetConfig{Ratio: 1, MinPerSecond: 1, Window: time.Second})
	for range 5 {
		b.Record(ok)
	}
	clk.Advance((1 << 33) * time.Second)
	if c, _ := b.counted(); c != 0 {
		t.Fatalf("after 2^33 rounds: %d calls counted, want 0", c)
	}
	b.Record(ok)
	if c, _ := b.counted(); c != 1 {
		t.Fatalf("the first call after 2^33 rounds: %d calls counted, want 1", c)
	}
	// Past the longest time.Duration since the budget began, time stands still for it.
	clk.Advance(time.Duration(math.MaxInt64))
	b.Record(ok)
	b.Record(ok)
	if c, _ := b.counted(); c != 2 {
		t.Fatalf("past the longest Duration: %d calls counted, want 2", c)
	}
}

// TestRatioBudgetLateReading: the retry loop passes the budget a reading of the clock it took
// before the budget's lock, so a call held up a whole window between the two finds its slot
// already moved on to a later epoch: it counts there, and the later epoch's calls are kept.
func TestRatioBudgetLateReading(t *testing.T) {
	b, clk := ratioBudget(t, RetryBudgetConfig{Ratio: 1, MinPerSecond: 0.1, Window: 10 * time.Second}) // floor 1
	read := clk.Now()                                                                                  // epoch 0, slot 0
	clk.Advance(10 * time.Second)                                                                      // epoch 10, slot 0 again
	b.Record(codes.Verdict{Class: codes.Success})
	b.record(codes.Verdict{Class: codes.Success}, true, read)
	if c, _ := b.counted(); c != 2 {
		t.Fatalf("%d calls counted, want 2 (the late call in epoch 10's slot, which keeps its own)", c)
	}
}

// TestRatioBudgetConcurrent races goroutines that count calls and withdraw retries (more
// than the budget allows) on one ratio budget, under -race, and checks the budget's rule:
// every call is counted, and the retries withdrawn never exceed Ratio·calls + floor in a
// window. In "steps" the clock stands still while they run and moves one slot between
// rounds, so that each window's counts are known; in "moving" it moves on while they run,
// within one window, across slots left from an older round that the calls replace.
func TestRatioBudgetConcurrent(t *testing.T) {
	const (
		workers = 8
		calls   = 500 // per worker and round
	)
	th := RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second} // floor 10
	ok := codes.Verdict{Class: codes.Success}
	// run has every worker count calls and ask for two retries after each, and returns the
	// retries allowed.
	run := func(b budgetUser, during func()) int64 {
		var wg sync.WaitGroup
		var allowed atomic.Int64
		for range workers {
			wg.Go(func() {
				for range calls {
					b.Record(ok)
					for range 2 {
						if b.Withdraw() {
							allowed.Add(1)
						}
					}
				}
			})
		}
		if during != nil {
			during()
		}
		wg.Wait()
		return allowed.Load()
	}
	// limit is the most retries calls allow in a window: ⌊Ratio·calls + floor⌋.
	limit := func(calls int64) int64 { return (calls*500 + 10_000) / 1000 }

	t.Run("steps", func(t *testing.T) {
		b, clk := ratioBudget(t, th)
		var perRound, allowedPerRound []int64
		for round := range 2 * budgetSlots {
			allowed := run(b, nil)
			perRound = append(perRound, workers*calls)
			allowedPerRound = append(allowedPerRound, allowed)
			var inWindow, allowedInWindow int64
			for i := max(0, round-budgetSlots+1); i <= round; i++ {
				inWindow += perRound[i]
				allowedInWindow += allowedPerRound[i]
			}
			c, r := b.counted()
			if c != inWindow || r != allowedInWindow {
				t.Fatalf("round %d: %d calls and %d retries counted, want %d and %d", round, c, r, inWindow, allowedInWindow)
			}
			if r > limit(c) {
				t.Fatalf("round %d: %d retries in the window of %d calls, limit %d", round, r, c, limit(c))
			}
			if got, want := b.Tokens(), max(float64(c*500+10_000-r*1000)/1000, 0); got != want {
				t.Fatalf("round %d: Tokens = %v, want %v", round, got, want)
			}
			// Nothing of the allowance was lost: what remains can still be withdrawn.
			for b.Withdraw() {
				allowedPerRound[round]++
			}
			if _, r := b.counted(); r != limit(c) {
				t.Fatalf("round %d: %d retries once drained, want %d", round, r, limit(c))
			}
			clk.Advance(time.Second)
		}
	})

	t.Run("moving", func(t *testing.T) {
		b, clk := ratioBudget(t, th)
		// Calls of an older round in every slot, out of the window by the time the workers
		// start (epoch 20), for their calls to replace.
		for range budgetSlots {
			for range 7 {
				b.Record(ok)
			}
			clk.Advance(time.Second)
		}
		clk.Advance(10 * time.Second)
		var recorded atomic.Int64
		rec := &countingBudget{b, &recorded}
		allowed := run(rec, func() {
			// The clock moves 5 slots while the workers run: one at each sixth of their calls.
			for i := range int64(5) {
				for recorded.Load() < (i+1)*workers*calls/6 {
					runtime.Gosched()
				}
				clk.Advance(time.Second)
			}
		})
		c, r := b.counted()
		if c != workers*calls || r != allowed {
			t.Fatalf("%d calls and %d retries counted, want %d and %d", c, r, workers*calls, allowed)
		}
		if r > limit(c) {
			t.Fatalf("%d retries in the window of %d calls, limit %d", r, c, limit(c))
		}
	})
}

// budgetUser is what TestRatioBudgetConcurrent's workers call.
type budgetUser interface {
	Record(codes.Verdict)
	Withdraw() bool
}

// countingBudget is a budget whose recorded calls are counted as they are made.
type countingBudget struct {
	*RetryBudget
	n *atomic.Int64
}

func (b *countingBudget) Record(v codes.Verdict) {
	b.RetryBudget.Record(v)
	b.n.Add(1)
}

// BenchmarkBudgetRatio is the ratio budget (the built-ins' kind) under the real clock, one
// budget shared by every goroutine as a service's is: Record of a call (every call of a
// policy with a ratio budget makes one), Withdraw (refused here once the floor and the calls'
// share are spent, as they soon are: the cost of the check), and a mix of one withdrawal per
// four calls.
func BenchmarkBudgetRatio(b *testing.B) {
	th := RetryBudgetConfig{Ratio: 0.6, MinPerSecond: 2, Window: 10 * time.Second}
	ok := codes.Verdict{Class: codes.Success}
	budget := func(b *testing.B) *RetryBudget {
		p, err := New(Config{Throttle: th})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		return p.Budget("s")
	}
	b.Run("record/serial", func(b *testing.B) {
		bud := budget(b)
		for b.Loop() {
			bud.Record(ok)
		}
	})
	b.Run("record/parallel", func(b *testing.B) {
		bud := budget(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				bud.Record(ok)
			}
		})
	})
	b.Run("withdraw/serial", func(b *testing.B) {
		bud := budget(b)
		for b.Loop() {
			bud.Withdraw()
		}
	})
	b.Run("withdraw/parallel", func(b *testing.B) {
		bud := budget(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				bud.Withdraw()
			}
		})
	})
	b.Run("mixed/serial", func(b *testing.B) {
		bud := budget(b)
		i := 0
		for b.Loop() {
			bud.Record(ok)
			if i++; i%4 == 0 {
				bud.Withdraw()
			}
		}
	})
	b.Run("mixed/parallel", func(b *testing.B) {
		bud := budget(b)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				bud.Record(ok)
				if i++; i%4 == 0 {
					bud.Withdraw()
				}
			}
		})
	})
}

// BenchmarkBudgetDo is the policy alone on a first-try success under a ratio budget, as the
// built-ins configure it, without and with an observer (which reads the clock at the
// attempt's end), serial and parallel.
func BenchmarkBudgetDo(b *testing.B) {
	th := RetryBudgetConfig{Ratio: 0.6, MinPerSecond: 2, Window: 10 * time.Second}
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	for _, obs := range []bool{false, true} {
		var opts []Option
		name := "quiet"
		if obs {
			opts, name = append(opts, WithObserver(observe.SinkFunc(func(observe.Event) {}))), "observed"
		}
		p, err := New(Config{Throttle: th}, opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Do(ctx, testkit.MethodCompare, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := p.Do(ctx, testkit.MethodCompare, fn); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// readingClock is a fake clock that counts its readings.
type readingClock struct {
	*clocktest.Fake
	n atomic.Int64
}

func (c *readingClock) Now() time.Time {
	c.n.Add(1)
	return c.Fake.Now()
}

// TestRatioBudgetTakesTheEndsReading: a call observed through a sink reads the clock at its
// first attempt's end for the AttemptFinished, and a ratio budget counts the call with that
// reading instead of one of its own, in the loop (Do) and in InvokeGated's first attempt: a
// first-try success reads the clock twice (its start and end), with or without a sink.
func TestRatioBudgetTakesTheEndsReading(t *testing.T) {
	th := RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second}
	g, _ := section.NewGates()
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, observed := range []bool{false, true} {
		clk := &readingClock{Fake: clocktest.New(time.Time{})}
		opts := []Option{WithClock(clk)}
		var finished int
		if observed {
			opts = append(opts, WithObserver(observe.SinkFunc(func(e observe.Event) {
				if e.Kind == observe.AttemptFinished {
					finished++
				}
			})))
		}
		p, err := New(Config{Throttle: th}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		b := p.Budget("kyc.v1.FaceMatchService")
		for _, path := range []struct {
			name string
			call func()
		}{
			{"Do", func() {
				_ = p.Do(context.Background(), testkit.MethodCompare, func(context.Context) error { return nil })
			}},
			{"InvokeGated", func() {
				_, _, _ = p.InvokeGated(context.Background(), Method{}, g, time.Time{}, nil, time.Time{}, 0, testkit.MethodCompare, nil, nil, nil, ok, nil)
			}},
		} {
			calls0, _ := b.counted()
			finished0, before := finished, clk.n.Load()
			path.call()
			if got := clk.n.Load() - before; got != 2 {
				t.Errorf("observed %v, %s: %d readings of the clock for a first-try success, want 2", observed, path.name, got)
			}
			if calls, _ := b.counted(); calls != calls0+1 {
				t.Errorf("observed %v, %s: %d calls counted, want %d", observed, path.name, calls, calls0+1)
			}
			if observed && finished != finished0+1 {
				t.Errorf("%s: %d AttemptFinished, want 1", path.name, finished-finished0)
			}
		}
	}
}

// TestCommittedStreamTakesNoRetryFromTheBudget: a stream that committed before the loop
// decided on its failure (its sends outgrew the replay buffer while it received) is not
// retried, and a ratio budget, asked last "once the retry is otherwise certain", counts no
// retry for it. Before the fix the loop asked the budget first, which counted a retry that
// was never made, and only then saw the commit.
func TestCommittedStreamTakesNoRetryFromTheBudget(t *testing.T) {
	clk := clocktest.New(time.Unix(1e9, 0))
	p, err := New(Config{Idempotent: true, Throttle: RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second}}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	m := p.method("/kyc.v1.LivenessService/Check")
	var c call
	l := p.newLoop(context.Background(), m, &c, time.Time{})
	defer l.stop()
	unavailable := status.Error(grpccodes.Unavailable, "GPU restarting")
	v := codes.Verdict{Class: codes.Transient, Code: grpccodes.Unavailable}
	retried, ferr := l.next(context.Background(), context.Background(), 1, v, unavailable, func() bool { return true })
	if retried || !errors.Is(ferr, unavailable) {
		t.Fatalf("committed stream: retried %v, err %v; want no retry, the attempt's error", retried, ferr)
	}
	if _, retries := m.bucket.counted(); retries != 0 {
		t.Fatalf("committed stream: %d retries counted in the budget, want 0", retries)
	}
}

// TestTokenBucketHoldsAtMostMaxTokens: successes refill the A6 bucket up to MaxTokens, never
// past it, so a run of successes does not buy more retries than a full bucket allows.
func TestTokenBucketHoldsAtMostMaxTokens(t *testing.T) {
	p, err := New(Config{Throttle: RetryBudgetConfig{MaxTokens: 10, TokenRatio: 1}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Budget("kyc.v1.OCRService")
	for range 3 {
		b.Record(codes.Verdict{Class: codes.Success})
	}
	if got := b.Tokens(); got != 10 {
		t.Fatalf("tokens after successes on a full bucket = %v, want 10", got)
	}
	withdrawn := 0
	for b.Withdraw() {
		withdrawn++
	}
	if withdrawn != 5 {
		t.Fatalf("withdrawals from a full bucket of 10 = %d, want 5 (down to half)", withdrawn)
	}
}
