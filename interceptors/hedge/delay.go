package hedge

import (
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// estimator is the adaptive hedging delay of one method: the lower of the Percentile and
// MedianMultiple times the median of the last Window latency samples, kept within [MinDelay,
// MaxDelay] (and, until MinSamples are known, at most the starting Delay), recomputed every
// few samples: after every sample at first, then every n/8 samples, at most every Window/8.
//
// Recording is lock-free and allocates nothing: one atomic add picks a slot of the ring, one
// atomic store fills it. The recomputation copies the ring into a preallocated scratch slice
// and selects the wanted rank in linear expected time; it runs under a TryLock, so a recorder
// that finds it busy moves on, and the holder, once it has let the lock go, recomputes again
// if the count has since passed the threshold; a sample counted but not yet stored when the
// holder reads the ring is waited for (a recorder is never stopped between the two).
type estimator struct {
	pct        float64
	mult       float64       // MedianMultiple
	start      time.Duration // the starting delay, the ceiling until minSamples are known
	lo, hi     time.Duration // hi 0: no ceiling
	minSamples uint64
	every      uint64

	delay atomic.Int64  // the delay now, in nanoseconds
	count atomic.Uint64 // samples recorded so far
	next  atomic.Uint64 // count at which the delay is next recomputed
	ring  []atomic.Int64

	mu      sync.Mutex // taken with TryLock by the recorder that recomputes
	scratch []int64    // Guarded by mu
}

func newEstimator(cfg Config) *estimator {
	e := &estimator{
		pct:        cfg.Percentile,
		mult:       cfg.MedianMultiple,
		lo:         cfg.MinDelay,
		hi:         cfg.MaxDelay,
		minSamples: uint64(cfg.MinSamples),
		every:      uint64(max(1, cfg.Window/8)),
		ring:       make([]atomic.Int64, cfg.Window),
		scratch:    make([]int64, cfg.Window),
	}
	e.start = startDelay(cfg)
	e.delay.Store(int64(e.start))
	e.next.Store(1)
	return e
}

// startDelay is the delay an estimator of cfg starts from: Config.Delay within [MinDelay,
// MaxDelay].
func startDelay(cfg Config) time.Duration {
	d := max(cfg.Delay, cfg.MinDelay)
	if cfg.MaxDelay > 0 {
		d = min(d, cfg.MaxDelay)
	}
	return d
}

func (e *estimator) clamp(d time.Duration) time.Duration {
	d = max(d, e.lo)
	if e.hi > 0 {
		d = min(d, e.hi)
	}
	return d
}

// current returns the hedging delay now.
func (e *estimator) current() time.Duration { return time.Duration(e.delay.Load()) }

// Sample records d (attempt.Sampler: a lower bound the retry loop above records once it
// knows that its per-attempt timeout ended the round, see call.report).
func (e *estimator) Sample(d time.Duration) { e.record(d) }

// record adds one latency sample. A slot holds its sample plus one, so that a slot taken by a
// recorder that has not stored yet (0) is no sample to the recomputation.
//
// A recorder past the threshold that finds the lock busy moves on: the holder may have read
// the count before that sample came. So the holder, once it lets the lock go, reads the count
// again and recomputes once more if it is past the threshold it set: a threshold (MinSamples
// above all) is acted on by the sample that reaches it, not by the one after.
func (e *estimator) record(d time.Duration) {
	n := e.count.Add(1)
	e.ring[(n-1)%uint64(len(e.ring))].Store(int64(max(d, 0)) + 1)
	for n >= e.next.Load() && e.mu.TryLock() {
		e.recomputeLocked()
		e.mu.Unlock()
		n = e.count.Load()
	}
}

// recomputeLocked sets the delay from the samples in the ring, unless another recorder just
// did.
func (e *estimator) recomputeLocked() {
	n := e.count.Load()
	if n < e.next.Load() {
		return
	}
	if testHookRecompute != nil {
		testHookRecompute()
	}
	s := e.scratch[:0]
	for i := range int(min(n, uint64(len(e.ring)))) {
		// A slot of the n counted that is still empty belongs to a recorder between its add
		// and its store: its sample is waited for, not left out. Left out, it would wait for
		// the next recomputation, its recorder having found the threshold moved past it.
		v := e.ring[i].Load()
		for v == 0 {
			runtime.Gosched()
			v = e.ring[i].Load()
		}
		s = append(s, v-1)
	}
	k := len(s)
	if k == 0 {
		return
	}
	d := time.Duration(selectRank(s, rank(e.pct, k)))
	if e.mult > 0 {
		med := selectRank(s, rank(0.5, k))
		if m := float64(med) * e.mult; m < float64(d) { // compared as floats: the product may pass an int64
			d = time.Duration(m)
		}
	}
	if n < e.minSamples {
		d = min(d, e.start)
	}
	e.delay.Store(int64(e.clamp(d)))
	// Quickly at first, so that a cold start learns from its first answers; the cost of
	// each recomputation is linear in the samples, so steps of n/8 keep the total linear
	// too. Steps land on multiples of the step, and on minSamples.
	step := min(max(n/8, 1), e.every)
	next := (n/step + 1) * step
	if n < e.minSamples {
		next = min(next, e.minSamples)
	}
	e.next.Store(next)
}

// testHookRecompute, when not nil, runs as a recomputation has read the count, under the
// lock: a test records there as a recorder on another goroutine could.
var testHookRecompute func()

// rank returns the 0-based index, in ascending order, of the p-th percentile of n samples by
// the nearest-rank definition: the smallest sample with at least p·n samples at or below it.
//
// p is the percentile as written, a decimal that a float64 only nears: p·n may come out a hair
// above the whole number the decimal makes (0.55×100 = 55.00000000000001), which rounded up
// would take the next sample. The product is off by at most about 1e-11 (n ≤ 100000), and a
// decimal of up to nine places that makes no whole number is at least 1e-9 past one: what is
// within rankSlack above a whole number is that number.
func rank(p float64, n int) int {
	r := int(math.Ceil(p*float64(n)-rankSlack)) - 1
	return min(max(r, 0), n-1)
}

// rankSlack is how far above a whole number p·n may come out of the float64 product and still be
// read as that number (see rank).
const rankSlack = 1e-10

// selectRank reorders s so that s[k] is the value it would hold were s sorted, and returns it:
// a quickselect with median-of-three pivots (linear expected time) that sorts what is left
// once it has partitioned more than about 2·log2(len(s)) times, so that adversarial input
// costs O(n log n) at worst. It allocates nothing.
func selectRank(s []int64, k int) int64 {
	lo, hi := 0, len(s)-1
	rounds := 2 * bits.Len(uint(len(s)))
	for hi-lo > 16 {
		if rounds == 0 {
			slices.Sort(s[lo : hi+1])
			return s[k]
		}
		rounds--
		mid := lo + (hi-lo)/2
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		pivot := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		// Now s[lo..j] ≤ pivot ≤ s[i..hi], and everything between j and i equals pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	// A short range: insertion sort.
	for i := lo + 1; i <= hi; i++ {
		for j := i; j > lo && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[k]
}
