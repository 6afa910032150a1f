package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// confidence is the coverage of the intervals the report gives.
const confidence = 0.95

// signTestRanks returns the 1-based ranks lo and hi of the order statistics that bound a
// distribution-free confidence interval of the median of n independent values: the sign-test
// interval. The number of values below the true median is Binomial(n, ½), so
// [x(k), x(n−k+1)] covers the median with probability 1 − 2·P(B ≤ k−1); k is the largest rank
// that keeps that probability at least conf (the coverage is conf or a little more, never
// less). ok is false when n is too small for any interval at conf (n < 6 at 95 %).
func signTestRanks(n int, conf float64) (lo, hi int, ok bool) {
	if n < 1 || conf <= 0 || conf >= 1 {
		return 0, 0, false
	}
	tail := (1 - conf) / 2
	// P(B ≤ j) for B ~ Binomial(n, ½), summed in log space so that large n does not underflow
	// the binomial coefficients' product.
	lgN, _ := math.Lgamma(float64(n + 1))
	cdf := 0.0
	k := 0 // the largest j+1 with P(B ≤ j) ≤ tail, so far
	for j := 0; j <= n/2; j++ {
		lj, _ := math.Lgamma(float64(j + 1))
		lnj, _ := math.Lgamma(float64(n - j + 1))
		cdf += math.Exp(lgN - lj - lnj - float64(n)*math.Ln2)
		if cdf > tail {
			break
		}
		k = j + 1
	}
	if k == 0 {
		return 0, 0, false
	}
	return k, n - k + 1, true
}

// estimate is a median with its confidence interval.
type estimate struct {
	med, lo, hi float64
	n           int
	ok          bool // the interval exists (enough values)
}

// medianCI returns the median of xs and its sign-test confidence interval at confidence.
func medianCI(xs []float64) estimate {
	e := estimate{n: len(xs), med: median(xs)}
	lo, hi, ok := signTestRanks(len(xs), confidence)
	if !ok {
		return e
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	e.lo, e.hi, e.ok = s[lo-1], s[hi-1], true
	return e
}

// String prints the median and its interval: 1.052 [1.041–1.063].
func (e estimate) String() string {
	return e.format(func(x float64) string { return fmt.Sprintf("%.3f", x) })
}

// format prints the median and its interval with each figure printed by f.
func (e estimate) format(f func(float64) string) string {
	switch {
	case e.n == 0:
		return "—"
	case !e.ok:
		return fmt.Sprintf("%s (no interval: %d values)", f(e.med), e.n)
	}
	return fmt.Sprintf("%s [%s–%s]", f(e.med), f(e.lo), f(e.hi))
}

// Goal verdicts of a measured median against a bound it must not exceed.
const (
	verdictMet         = "met"
	verdictMissed      = "**missed**"
	verdictUnknown     = "not established"
	verdictNoInterval  = "not established (too few rounds for an interval)"
	verdictNoMeasure   = "not measured"
	verdictExplanation = "met when the 95 % interval's upper bound is within the goal, missed when its lower bound is beyond it, otherwise not established"
)

// goalVerdict applies the report's rule to e against an upper bound goal: met when the whole
// confidence interval is within the goal, missed when the whole interval is beyond it, and not
// established when the interval straddles it (the data cannot tell).
func goalVerdict(e estimate, goal float64) string {
	switch {
	case e.n == 0:
		return verdictNoMeasure
	case !e.ok:
		return verdictNoInterval
	case e.hi <= goal:
		return verdictMet
	case e.lo > goal:
		return verdictMissed
	}
	return verdictUnknown
}

// lag1 returns the lag-1 autocorrelation of xs in their order (0 for fewer than 3 values or
// no variance). The sign-test interval assumes independent rounds; a value well above 0 says
// that neighbouring rounds move together and the interval is too narrow.
func lag1(xs []float64) float64 {
	if len(xs) < 3 {
		return 0
	}
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var num, den float64
	for i, x := range xs {
		den += (x - mean) * (x - mean)
		if i > 0 {
			num += (x - mean) * (xs[i-1] - mean)
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// Cluster bootstrap: the interval of a pooled median whose values come in groups (processes)
// that may each sit apart from the others.
const (
	// minClusters is the fewest groups a cluster bootstrap is given: with fewer, resampling
	// the groups says little about the spread between them.
	minClusters = 10
	// bootstrapResamples is how many resamples the interval is read from.
	bootstrapResamples = 4000
	// bootstrapSeed seeds the resampling, so that the same data give the same report.
	bootstrapSeed = 20
)

// clusterCI returns the median of every value of groups with a percentile cluster-bootstrap
// interval at confidence: each of resamples draws len(groups) groups with replacement, whole,
// and takes the median of their values pooled. Values within a group may move together (a
// process's heap layout, which core its server lands on), which the sign-test interval of the
// pooled values cannot see; resampling whole groups carries that into the interval, and uses
// every value where an interval of the groups' own medians rests on one noisy median per
// group. ok is false with fewer than minClusters non-empty groups.
func clusterCI(groups [][]float64, resamples int) estimate {
	var gs [][]float64
	var all []float64
	for _, g := range groups {
		if len(g) > 0 {
			gs = append(gs, g)
			all = append(all, g...)
		}
	}
	e := estimate{n: len(all), med: median(all)}
	if len(gs) < minClusters || resamples < 1 {
		return e
	}
	rng := rand.New(rand.NewPCG(bootstrapSeed, uint64(len(all))))
	meds := make([]float64, resamples)
	buf := make([]float64, 0, len(all)*2)
	for i := range meds {
		buf = buf[:0]
		for range gs {
			buf = append(buf, gs[rng.IntN(len(gs))]...)
		}
		slices.Sort(buf)
		meds[i] = sortedMedian(buf)
	}
	slices.Sort(meds)
	tail := (1 - confidence) / 2
	e.lo = meds[int(math.Floor(tail*float64(resamples-1)))]
	e.hi = meds[int(math.Ceil((1-tail)*float64(resamples-1)))]
	e.ok = true
	return e
}

// sortedMedian is the median of s, which is sorted and not empty.
func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
