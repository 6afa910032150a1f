package main

import (
	"fmt"
	"strings"
)

// ladderSteps are the rungs of the report's ladder, from raw to the full suite: each chain is
// the one before it with one layer more, so that the per-round difference between neighbours is
// what that layer costs in place.
var ladderSteps = []struct{ chain, adds string }{
	{"grpc_timeout", "the per-attempt deadline, kept by grpc: the service config's 5 s timeout on the context grpc makes for every call"},
	{"suite_retry", "the suite with retry alone configured (the retry policy, its budget, the 8 s call budget, the method's chain)"},
	{"suite_nosink", "breaker, rate limiter, bulkhead and deadline policies"},
	{"suite", "promobs: the Prometheus metrics of every call"},
}

// ladder prints where the suite's overhead goes, layer by layer, when the headline measured
// every rung (a round of it with raw), with the room the suite's time goal (goal, as a ratio
// to raw: goalSuiteTime) leaves above the first rung, and keeps a one-line form for the summary.
func (r *report) ladder(got map[string]ratioAllocs, goal float64) {
	for _, s := range ladderSteps {
		if g, ok := got[s.chain]; !ok || g.r.rounds == 0 {
			return // a rung of no round would read as −100 %, its difference as 0
		}
	}
	r.printf("\n### Where the suite's overhead goes: a ladder\n\n")
	r.printf("Each rung is the chain above it with one layer more, measured in the same rounds; a rung's\n")
	r.printf("cost is the per-round difference from the rung above, in raw's time (median [95 %% CI]).\n")
	r.printf("The medians of differences need not add up to the suite's median exactly.\n\n")
	r.printf("| rung | the layer it adds | adds, per round | over raw | allocs added |\n| --- | --- | ---: | ---: | ---: |\n")
	var short []string
	prev := ratioAllocs{}
	for i, s := range ladderSteps {
		g := got[s.chain]
		add := g.r.ci()
		if i > 0 {
			add = shift(halfGap(g.r, prev.r, 1), 1)
		}
		r.printf("| %s | %s | %s | %+.1f %% | %+.2f |\n", s.chain, s.adds, pctCI(add), (g.r.ci().med-1)*100, g.allocs-prev.allocs)
		short = append(short, fmt.Sprintf("`%s` %+.1f", s.chain, (add.med-1)*100))
		prev = g
	}
	first := ladderSteps[0].chain
	floor := (got[first].r.ci().med - 1) * 100
	above := (shift(halfGap(got["suite"].r, got[first].r, 1), 1).med - 1) * 100
	r.printf("\nAbove the `%s` rung, the ≤ %s %% goal leaves %.1f points of raw's time; the %d rungs\n", first, goalFigure((goal-1)*100), (goal-1)*100-floor, len(ladderSteps)-1)
	r.printf("above it take %+.1f (suite − %s, per round).\n", above, first)
	r.sum.notes = append(r.sum.notes, "Where it goes, rung by rung (per round, in raw's time, each over the one before): "+strings.Join(short, ", ")+" %.")
	r.ownLadder(got)
}

// ownMedian returns the median of unit over bench's runs of chain, less raw's, and whether
// both are there.
func ownMedian(own []sample, bench, chain, unit string) (float64, bool) {
	c := values(filter(own, bench, 0, map[string]string{"chain": chain}), unit)
	raw := values(filter(own, bench, 0, map[string]string{"chain": "raw"}), unit)
	if len(c) == 0 || len(raw) == 0 {
		return 0, false
	}
	return median(c) - median(raw), true
}

// ownLadder prints, for the ladder's rungs above the first, the layer's own work without gRPC,
// hot (BenchmarkSuiteOwn) and cold (BenchmarkSuiteOwnCold), and what the cold figure predicts
// in place through the spin1us calibration, against the rung's measured cost. It prints
// nothing unless every rung has both figures and spin1us was measured.
func (r *report) ownLadder(got map[string]ratioAllocs) {
	spin, ok := got["spin1us"]
	if !ok || spin.r.rounds == 0 {
		return // no calibration to price the own work with
	}
	type rung struct {
		chain     string
		hot, cold float64 // the chain's own work over raw's
	}
	var rungs []rung
	for _, s := range ladderSteps[1:] {
		hot, ok1 := ownMedian(r.own, "BenchmarkSuiteOwn", s.chain, "ns/op")
		cold, ok2 := ownMedian(r.own, "BenchmarkSuiteOwnCold", s.chain, "cold-ns/op")
		if !ok1 || !ok2 {
			return
		}
		rungs = append(rungs, rung{s.chain, hot, cold})
	}
	perNs := (spin.r.ci().med - 1) / 1000 // raw's time one nanosecond of the caller's CPU costs in place
	r.printf("\nThe same rungs' own work, without gRPC: the layer's nanoseconds per call over the rung\n")
	r.printf("below in `BenchmarkSuiteOwn` (a hot loop: the suite's code and data stay in the core's\n")
	r.printf("caches) and in `BenchmarkSuiteOwnCold` (before each call, untimed, the caller reads 2 MB of\n")
	r.printf("other memory, which evicts them from L1 and L2 as a gRPC round trip does); medians of\n")
	r.printf("their runs. *Predicted* is the cold figure priced by the calibration (`spin1us`: a\n")
	r.printf("nanosecond of the caller's CPU costs %.4f %% of raw's time here), against the rung's\n", perNs*100)
	r.printf("measured cost above.\n\n")
	r.printf("| rung | own work, hot (ns) | own work, cold (ns) | cold ÷ hot | predicted in place | measured in place |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	var prevHot, prevCold float64
	prev := got[ladderSteps[0].chain]
	var short []string
	for _, g := range rungs {
		dh, dc := g.hot-prevHot, g.cold-prevCold
		ratio := "—"
		if dh > 0 {
			ratio = fmt.Sprintf("%.1f×", dc/dh)
		}
		add := shift(halfGap(got[g.chain].r, prev.r, 1), 1)
		r.printf("| %s | %+.0f | %+.0f | %s | %+.1f %% | %s |\n", g.chain, dh, dc, ratio, dc*perNs*100, pctCI(add))
		short = append(short, fmt.Sprintf("`%s` %.0f → %.0f ns", g.chain, dh, dc))
		prevHot, prevCold, prev = g.hot, g.cold, got[g.chain]
	}
	r.printf("\nThe full suite's own work: %.0f ns hot, %.0f ns cold; priced in place, %+.1f %% of raw's time.\n", prevHot, prevCold, prevCold*perNs*100)
	note := fmt.Sprintf("Own work per rung without gRPC, hot → cold (caches evicted between calls): %s; the full suite %.0f → %.0f ns, which the calibration prices at %+.1f %% in place.",
		strings.Join(short, ", "), prevHot, prevCold, prevCold*perNs*100)
	hot, ok1 := ownMedian(r.own, "BenchmarkSuiteOwn", "policies_direct", "ns/op")
	cold, ok2 := ownMedian(r.own, "BenchmarkSuiteOwnCold", "policies_direct", "cold-ns/op")
	if ok1 && ok2 {
		r.printf("The same policies called directly in one function, without the suite (`policies_direct`:\n")
		r.printf("deadline, limiter, breaker, bulkhead, classifier and the promobs events; no retry loop or\n")
		r.printf("budget): %.0f ns hot, %.0f ns cold. The suite's own machinery around its policies (chain,\n", hot, cold)
		r.printf("retry loop and budget, per-call options and state) costs the rest: %.0f ns cold, %+.1f %% in place.\n", prevCold-cold, (prevCold-cold)*perNs*100)
		note += fmt.Sprintf(" The policies called directly, without the suite: %.0f → %.0f ns; the suite's machinery around them %.0f ns cold.", hot, cold, prevCold-cold)
		note += r.policyShares(cold, perNs)
	}
	r.sum.notes = append(r.sum.notes, note)
}

// directPolicies are the policies policies_direct can leave out (the chains
// policies_no_<name> of BenchmarkSuiteOwnCold), with what each stands for.
var directPolicies = []struct{ name, what string }{
	{"deadline", "the deadline step's DeadlineAt"},
	{"limiter", "the rate limiter's EnterAt and Exit (a lock-free bucket)"},
	{"breaker", "the breaker's Enter and Exit"},
	{"bulkhead", "the bulkhead's Enter and Exit"},
	{"events", "the classifier and the promobs events (DeadlineApplied, AttemptFinished, CallFinished)"},
}

// policyShares prints each policy's share of policies_direct's cold own work (cold): the chain
// without it subtracted from policies_direct, priced in place at perNs, and what is left
// without any of them (policies_none). It returns the summary's sentence, or "" (and prints
// nothing) unless every chain was measured.
func (r *report) policyShares(cold, perNs float64) string {
	shares := make([]float64, len(directPolicies))
	for i, p := range directPolicies {
		without, ok := ownMedian(r.own, "BenchmarkSuiteOwnCold", "policies_no_"+p.name, "cold-ns/op")
		if !ok {
			return ""
		}
		shares[i] = cold - without
	}
	none, ok := ownMedian(r.own, "BenchmarkSuiteOwnCold", "policies_none", "cold-ns/op")
	if !ok {
		return ""
	}
	r.printf("\nEach policy's share of `policies_direct`, cold: `policies_direct` less the same chain without\n")
	r.printf("it (`policies_no_<policy>`); `policies_none` is what is left without any of them (two clock\n")
	r.printf("readings, the pooled trailer option, the invoker). Shares need not add up: a cache line\n")
	r.printf("two policies share is paid once.\n\n")
	r.printf("| policy | what | own work, cold (ns) | priced in place |\n| --- | --- | ---: | ---: |\n")
	var short []string
	for i, p := range directPolicies {
		r.printf("| %s | %s | %+.0f | %+.1f %% |\n", p.name, p.what, shares[i], shares[i]*perNs*100)
		short = append(short, fmt.Sprintf("%s %.0f", p.name, shares[i]))
	}
	r.printf("| none | `policies_none` | %.0f | %+.1f %% |\n", none, none*perNs*100)
	return fmt.Sprintf(" Each policy's share of it, cold: %s ns; without any, %.0f ns.", strings.Join(short, ", "), none)
}
