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
	{"suite_retry", "the suite with retry alone configured (the retry policy, its budget, the 8 s call budget, the method's chain, the runner)"},
	{"suite_nosink", "breaker, rate limiter, bulkhead and deadline policies"},
	{"suite", "promobs: the Prometheus metrics of every call"},
}

// ladder prints where the suite's overhead goes, layer by layer, when the headline holds every
// rung, and keeps a one-line form for the summary.
func (r *report) ladder(got map[string]ratioAllocs) {
	for _, s := range ladderSteps {
		if _, ok := got[s.chain]; !ok {
			return
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
	r.printf("\nAbove the `%s` rung, the ≤ +8 %% goal leaves %.1f points of raw's time; the %d rungs\n", first, 8-floor, len(ladderSteps)-1)
	r.printf("above it take %+.1f (suite − %s, per round).\n", above, first)
	r.sum.notes = append(r.sum.notes, "Where it goes, rung by rung (per round, in raw's time, each over the one before): "+strings.Join(short, ", ")+" %.")
}
