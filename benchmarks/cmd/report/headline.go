package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkrpc/bulwark/internal/prose"
)

// pairedBench is the paired layout's benchmark (benchmarks.RunPaired, cmd/paired).
const pairedBench = "BenchmarkUnaryDLPaired"

// The issue 20 goals, over raw in the same run.
const (
	goalSuiteAllocs   = 12
	goalSuiteTime     = 1.08
	goalBuiltinAllocs = 14
	goalFailsafeShare = 0.5 // the suite's overhead at most this share of failsafe-go's
)

// headline prints the headline in both layouts, paired first, and the goal verdicts, which use
// the paired layout when there is one.
func (r *report) headline(paired, head []sample) {
	// The paired layout runs at the machine's GOMAXPROCS; the per-process table reads 2.
	procs := "2"
	if hasPaired(paired) {
		procs = gomaxprocsIn(paired)
	}
	r.printf("`FaceMatchService.Compare` over bufconn, one caller, GOMAXPROCS %s, every call with a 10 s\n", procs)
	r.printf("caller deadline of its own, made right before it (`context.WithTimeout` at the call site),\n")
	r.printf("measured in two layouts. Why a fresh deadline per call, and what a deadline shared by many\n")
	r.printf("calls changes, is in the next section.\n\n")
	var got map[string]ratioAllocs
	layout := ""
	if hasPaired(paired) {
		r.printf("### Paired: every chain in one process (the layout the verdicts use)\n\n")
		r.printf("`cmd/paired` (`benchmarks.RunPaired`): one process holds the server and one connection per\n")
		r.printf("chain; each round runs one block of serial calls per chain, in a random order drawn anew\n")
		r.printf("each round (seeded), so that no chain always follows the same one and inherits what that\n")
		r.printf("one leaves behind (warm caches from the same code: kept in a fixed cyclic order, raw\n")
		r.printf("right after the suite-free grpcmw_retry made grpcmw_retry look 1.7 %% faster than raw).\n")
		r.printf("Before every block, outside the timing, the garbage is collected (so that no chain pays\n")
		r.printf("for another's) and a random share of one collection cycle's allocation is allocated as\n")
		r.printf("garbage (so that a block starts at a random phase of the collector's cycle and pays, on\n")
		r.printf("average, for exactly the collections its own garbage causes: without it a 2000-call block\n")
		r.printf("paid as many collections for the suite as for raw). A chain's ratio to raw is taken within each round\n")
		r.printf("(blocks a fraction of a second apart share the machine's drift, which cancels in the ratio).\n")
		r.printf("The baseline of a round is the geometric mean of raw's two blocks, raw and raw2 (raw again\n")
		r.printf("on a connection of its own), so that neither one block's noise nor one connection's luck\n")
		r.printf("sets it; raw2's own row is raw2 ÷ raw, an A/A control whose interval should hold 1.000.\n")
		r.printf("The table gives the median of the per-round ratios with its **95 %% confidence interval**,\n")
		r.printf("the distribution-free sign-test interval (order statistics of the ratios at ranks from the\n")
		r.printf("Binomial(rounds, ½) distribution: no assumption about the shape of the noise, exact, no\n")
		r.printf("random resampling to seed). Allocations and bytes are the process's `runtime.MemStats`\n")
		r.printf("Mallocs and TotalAlloc deltas per call (server included), the median over rounds.\n\n")
		got = r.pairedTable(paired, true)
		layout = "paired"
		r.sum.paired, r.sum.rounds, r.sum.procs = got, got["raw"].r.rounds, max(len(procsIn(paired)), 1)
	} else {
		r.printf("**%s** (paired.out holds no round of raw): no paired figures; the goals, when\n", pairedEmpty)
		r.printf("the per-process layout below measured them, are judged on it.\n")
	}
	r.printf("\n### Each chain alone in its own process\n\n")
	r.printf("`BenchmarkUnaryDL`: one process per chain per round, the chain order rotated each round;\n")
	r.printf("the median of the per-round ratios with their range. One process differs from the next by\n")
	r.printf("tens of per cent on a shared VM (heap layout, scheduling, which core the server lands on), so\n")
	r.printf("these ranges are wide; the table is kept as a cross-check of the paired layout.\n\n")
	proc := r.overheadTable(head, "BenchmarkUnaryDL", "serial", 2)
	if got == nil {
		got, layout, paired = proc, "per-process", nil
	}
	if got == nil {
		return
	}
	r.goals(got, layout, paired)
	r.ladder(got, goalSuiteTime)
}

// pairedEmpty says that the paired headline has no figures (paired.out holds no round).
const pairedEmpty = "The paired run is empty"

// controlChain is raw again on a connection of its own (benchmarks.ControlChain).
const controlChain = "raw2"

// pairedBase returns the baseline the paired layout's chains are divided by, one sample per
// round: the geometric mean of raw's and raw2's blocks of that round when both are there (two
// blocks halve the baseline's own noise, and no one connection's luck sets it), raw's alone
// otherwise.
func pairedBase(ss []sample) []sample {
	raw := filter(ss, pairedBench, 0, map[string]string{"chain": "raw"})
	ctl := map[int]sample{}
	for _, s := range filter(ss, pairedBench, 0, map[string]string{"chain": controlChain}) {
		ctl[s.round] = s
	}
	out := make([]sample, 0, len(raw))
	for _, s := range raw {
		c, ok := ctl[s.round]
		if !ok {
			out = append(out, s)
			continue
		}
		b := s
		b.values = map[string]float64{}
		for unit, v := range s.values {
			if w, ok := c.values[unit]; ok {
				b.values[unit] = math.Sqrt(v * w)
			}
		}
		out = append(out, b)
	}
	return out
}

// pairedRatio returns chain's per-round ratio to the baseline (pairedBase) in unit; raw2's is
// to raw alone: the A/A control.
func pairedRatio(ss []sample, chain, unit string) ratio {
	cs := filter(ss, pairedBench, 0, map[string]string{"chain": chain})
	if chain == controlChain || chain == "raw" {
		return ratioIn(cs, filter(ss, pairedBench, 0, map[string]string{"chain": "raw"}), unit)
	}
	return ratioIn(cs, pairedBase(ss), unit)
}

// pairedTable prints the paired layout's table and returns each chain's time ratio and
// allocations over raw.
func (r *report) pairedTable(ss []sample, perProcess bool) map[string]ratioAllocs {
	raw := filter(ss, pairedBench, 0, map[string]string{"chain": "raw"})
	ra, rb, cpu := r.chainTableHead(raw, "median [95 % CI]")
	got := map[string]ratioAllocs{}
	var lags []string
	for _, c := range chainsIn(filter(ss, pairedBench, 0, nil)) {
		cs := filter(ss, pairedBench, 0, map[string]string{"chain": c})
		rt := pairedRatio(ss, c, "ns/op")
		a, b := median(values(cs, "allocs/op")), median(values(cs, "B/op"))
		col := ""
		if cpu {
			col = " " + pairedRatio(ss, c, "cpu-ns/op").ci().String() + " |"
		}
		time := rt.ci().String()
		if c == controlChain {
			time = rt.ci().againstOne() // read for whether it holds 1
		}
		r.printf("| %s | %s | %.0f | %s | %s |%s %.2f | %+.2f | %+.0f |\n", c, chainText[c],
			median(values(cs, "ns/op")), time, pct(rt), col, a, a-ra, b-rb)
		got[c] = ratioAllocs{rt, a - ra}
		if c != "raw" {
			lags = append(lags, fmt.Sprintf("%s %+.2f", c, lag1(rt.inOrder())))
		}
	}
	rounds := got["raw"].r.rounds
	calls := 0
	if len(raw) > 0 {
		calls = raw[0].iters
	}
	procs := procsIn(ss)
	r.printf("\n%d rounds of %d calls per chain", rounds, calls)
	if len(procs) > 1 {
		r.printf(", in %d processes one after another (their rounds pooled)", len(procs))
	}
	r.printf(". ")
	if cpu {
		r.printf("*CPU × raw* is the process's CPU time per call (getrusage: user + system,\n")
		r.printf("every thread, the server's share and the garbage collector included) over raw's in the same\n")
		r.printf("round: time spent waiting for a core is not in it. ")
	}
	r.printf("The interval assumes independent rounds; the lag-1\n")
	r.printf("autocorrelation of each chain's per-round time ratios (near 0 when rounds behave as\n")
	r.printf("independent; well above 0 would mean the intervals are too narrow): %s.\n", strings.Join(lags, ", "))
	if aa, ok := got[controlChain]; ok {
		if e := aa.r.ci(); e.ok && (e.lo > 1 || e.hi < 1) {
			r.printf("\n**The A/A control's interval, %s, does not hold 1.000**: two identical chains differ by\n", e.againstOne())
			r.printf("%s %% in this layout (a connection's or a position's bias), more than its noise. The\n", pctAtOne(e.med))
			r.printf("baseline, the geometric mean of both, halves that bias; read differences between chains of\n")
			r.printf("that size as within the layout's error.\n")
		}
	}
	if perProcess && len(procs) > 1 {
		r.perProcess(ss, procs)
	}
	return got
}

// hasPaired reports whether ss holds the paired layout (raw's blocks).
func hasPaired(ss []sample) bool {
	return len(filter(ss, pairedBench, 0, map[string]string{"chain": "raw"})) > 0
}

// pairedSection prints a section of the paired layout run another way: its title, text (what
// differs from the headline and why), and its table. It returns the table's ratios, or nil
// (and prints nothing) when ss holds no paired layout.
func (r *report) pairedSection(ss []sample, title, text string) map[string]ratioAllocs {
	if !hasPaired(ss) {
		return nil
	}
	r.printf("\n## %s\n\n%s\n", title, text)
	return r.pairedTable(ss, false)
}

// sharedText says what a caller deadline shared by 500 calls changes (see callerDeadline in
// paired.go).
const sharedText = `grpc-go sends the time left as ` + "`grpc-timeout`" + `, in whole microseconds for deadlines between
0.1 and 100 s. A deadline made right before the call gives nearly the same value on every
call, which both ends keep in their HPACK tables and send as an index; a deadline shared by
many calls (a request-scoped one that several calls spend) gives a new value on every call,
encoded and decoded as a literal. A chain that makes its own per-attempt deadline (the
suite's 5 s per attempt, the bare ` + "`timeout`" + ` chain; failsafe-go's timeout is a timer and
sends none) sends a repeating value in either layout. So with a shared caller deadline
such a chain saves what raw pays for its
literal, and its ratio to raw understates its own cost by that saving, several per cent of
a bufconn call (compare ` + "`timeout`" + ` below with its row in the headline). The headline uses a
fresh deadline per call, where raw and every chain send a repeating value, so a chain's
own deadline is priced at what it costs. The same paired layout, shorter, with one deadline
per 500 calls:
`

// slowTextOf says what the 1 ms layout is for: the regime of the ML services bulwark protects.
// rawNs is raw's median call in the paired headline and suite the full suite's ratio to raw
// there (0 and estimate{} when the run has none: the text then gives no figure).
func slowTextOf(rawNs float64, suite estimate) string {
	call, share := "bufconn call", "work is a large share of the call"
	if rawNs > 0 {
		call = fmt.Sprintf("%.0f µs bufconn call", rawNs/1000)
	}
	if suite.n > 0 {
		share = fmt.Sprintf("work adds %.0f %% to the call", (suite.med-1)*100)
	}
	return "The headline's " + call + ` is the harshest case for a client library: its own
` + share + `. The ML services bulwark protects answer in milliseconds. The
same paired layout, shorter, with the server answering each call after 1 ms (a timer, as
an inference service's GPU wait: the cores are idle meanwhile) and a fresh caller deadline
per call:
`
}

// gomaxprocsIn writes the GOMAXPROCS settings the samples ss ran at ("1 and 2" for two).
func gomaxprocsIn(ss []sample) string {
	var ps []int
	for _, s := range ss {
		if !slices.Contains(ps, s.procs) {
			ps = append(ps, s.procs)
		}
	}
	slices.Sort(ps)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strconv.Itoa(p)
	}
	return prose.List(out)
}

// procsIn returns the process numbers of ss ("# process N" markers), in order.
func procsIn(ss []sample) []int {
	var out []int
	for _, s := range ss {
		if !slices.Contains(out, s.proc) {
			out = append(out, s.proc)
		}
	}
	slices.Sort(out)
	return out
}

// perProcess prints each process's median time ratio with its own interval next to the pooled
// one. The pooled interval treats rounds as independent, which holds only if one process's
// state (heap layout, which core the server lands on) does not move all its rounds: processes
// whose own intervals do not overlap (marked †) say it does, and the pooled interval is then
// too narrow. Two 95 % intervals of the same median miss each other by chance about once in 200.
func (r *report) perProcess(ss []sample, procs []int) {
	r.printf("\nEach process's own median time ratio and 95 %% interval, against the pooled ones (†: the\n")
	r.printf("process's interval misses another process's, so processes differ by more than their\n")
	r.printf("rounds do and the pooled interval is too narrow):\n\n")
	r.printf("| chain |")
	for _, p := range procs {
		r.printf(" process %d |", p)
	}
	r.printf(" pooled |\n| --- |%s ---: |\n", strings.Repeat(" ---: |", len(procs)))
	for _, c := range chainsIn(filter(ss, pairedBench, 0, nil)) {
		if c == "raw" {
			continue
		}
		es := processEstimates(ss, c, procs)
		r.printf("| %s |", c)
		for i, e := range es {
			mark := ""
			if !overlapsAll(es, i) {
				mark = " †"
			}
			r.printf(" %s%s |", e, mark)
		}
		r.printf(" %s |\n", pairedRatio(ss, c, "ns/op").ci())
	}
}

// processes is one measure split by process: each process's median with its own interval, and
// its per-round values.
type processes struct {
	est  []estimate
	vals [][]float64

	cl     estimate // clusterCI of vals, once read (cluster)
	clRead bool
}

// measured returns how many of p's processes hold values: those the cluster bootstrap
// resamples and whose medians processMedians takes.
func (p *processes) measured() int {
	n := 0
	for _, v := range p.vals {
		if len(v) > 0 {
			n++
		}
	}
	return n
}

// cluster returns the cluster bootstrap's interval of p's values, computed once.
func (p *processes) cluster() estimate {
	if !p.clRead {
		p.cl, p.clRead = clusterCI(p.vals, bootstrapResamples), true
	}
	return p.cl
}

// processValues returns chain's per-round time ratios split by process.
func processValues(ss []sample, chain string, procs []int) processes {
	return perProcessOf(ss, procs, func(in []sample) []float64 { return pairedRatio(in, chain, "ns/op").inOrder() })
}

// processEstimates returns chain's median time ratio with its interval for each of procs,
// over that process's rounds alone.
func processEstimates(ss []sample, chain string, procs []int) []estimate {
	return processValues(ss, chain, procs).est
}

// perProcessOf returns of(the samples of p), and its median with interval, for each p of procs.
func perProcessOf(ss []sample, procs []int, of func([]sample) []float64) processes {
	out := processes{est: make([]estimate, len(procs)), vals: make([][]float64, len(procs))}
	for i, p := range procs {
		var in []sample
		for _, s := range ss {
			if s.proc == p {
				in = append(in, s)
			}
		}
		out.vals[i] = of(in)
		out.est[i] = medianCI(out.vals[i])
	}
	return out
}

// overlapsAll says whether es[i]'s interval overlaps every other one (intervals missing for
// too few rounds overlap everything).
func overlapsAll(es []estimate, i int) bool {
	for j, e := range es {
		if j != i && es[i].ok && e.ok && (es[i].hi < e.lo || e.hi < es[i].lo) {
			return false
		}
	}
	return true
}

// agree says whether the intervals of es all overlap.
func agree(es []estimate) bool {
	for i := range es {
		if !overlapsAll(es, i) {
			return false
		}
	}
	return true
}

// acrossProcesses widens the pooled estimate by the processes' own spread. The pooled
// interval treats rounds as independent, but a process's state (heap layout, which core the
// server lands on) can move all its rounds together, so with minClusters processes or more the
// interval used is the union of the pooled one and the cluster bootstrap's (clusterCI:
// processes resampled whole), which holds whatever the processes' spread. ok is false with
// fewer processes: there is no process-level interval.
func acrossProcesses(pooled estimate, p *processes) (estimate, bool) {
	cl := p.cluster()
	if !cl.ok || !pooled.ok {
		return pooled, false
	}
	u := pooled
	u.lo, u.hi = min(pooled.lo, cl.lo), max(pooled.hi, cl.hi)
	return u, true
}

// processMedians is the sign-test interval of the processes' own medians: the process-level
// interval the report judged until 55b19fb, now printed beside the cluster bootstrap's. It is
// as valid, but it rests each process on one median of its few rounds, so it is wider.
func processMedians(p *processes) estimate {
	var meds []float64
	for _, e := range p.est {
		if e.n > 0 {
			meds = append(meds, e.med)
		}
	}
	return medianCI(meds)
}

// verdictAcross is the goal rule with several processes. With enough processes for a
// process-level interval, goalVerdict on the union of the pooled and the cluster bootstrap's
// intervals (acrossProcesses). With fewer: goalVerdict on the pooled interval when the
// processes' own intervals overlap; when they do not (†), the pooled interval is too narrow,
// and a verdict is given only when every process's own interval gives it.
func verdictAcross(pooled estimate, p *processes, goal float64) string {
	if u, ok := acrossProcesses(pooled, p); ok {
		return goalVerdict(u, goal)
	}
	procs := p.est
	if len(procs) < 2 || agree(procs) {
		return goalVerdict(pooled, goal)
	}
	first := goalVerdict(procs[0], goal)
	for _, e := range procs[1:] {
		if goalVerdict(e, goal) != first || (first != verdictMet && first != verdictMissed) {
			return verdictUnknown + ": the processes disagree (†)"
		}
	}
	return first + ", in every process (they disagree, †)"
}

// spanText describes the interval verdictAcross uses, when it is not the pooled one; x shifts
// the figures printed (1 for a difference printed as a ratio), which are printed against goal
// (shifted by x too: pctAt).
func spanText(pooled estimate, p *processes, x, goal float64) string {
	if u, ok := acrossProcesses(pooled, p); ok {
		u = shift(u, x)
		return fmt.Sprintf("; with the %d processes resampled whole [%s – %s %%]", p.measured(), pctAt(u.lo, goal+x), pctAt(u.hi, goal+x))
	}
	return ""
}

// goals prints the issue 20 goals against the headline's figures from layout; paired, when
// given, is that layout's data, whose processes are checked against the pooled interval.
func (r *report) goals(got map[string]ratioAllocs, layout string, paired []sample) {
	r.printf("\n### Goals (issue 20)\n\n")
	r.printf("Time verdicts use the %s layout's median ratio and its 95 %% interval: %s.\n", layout, verdictExplanation)
	// The processes that measured the suite: those its interval is drawn from (a process cut
	// short before its first suite block has none).
	suiteProcs := processValues(paired, "suite", procsIn(paired))
	if k := suiteProcs.measured(); k >= minClusters {
		r.printf("The pooled interval treats rounds as independent, but a process's state can move all its\n")
		r.printf("rounds together, so the interval judged is the union of the pooled one and a cluster\n")
		r.printf("bootstrap's: the %d processes resampled whole, %d times (seeded), the pooled median of each\n", k, bootstrapResamples)
		r.printf("resample, its 2.5th and 97.5th percentiles. Until 55b19fb the report took the sign-test\n")
		r.printf("interval of the processes' own medians instead, which is as valid but rests each process on\n")
		r.printf("one median of its %d or so rounds, so it is wider; it is given below, after the goals.\n", len(slices.Concat(suiteProcs.vals...))/k)
	} else if k > 1 {
		r.printf("When the processes' own intervals miss each other (†), the pooled interval is too narrow,\n")
		r.printf("and a verdict is given only when every process's own interval gives it (%d processes or more\n", minClusters)
		r.printf("would give a process-level interval instead).\n")
	}
	if layout == "paired" {
		r.printf("The paired layout decides because its interval is far narrower: neighbouring blocks share\n")
		r.printf("the machine's drift and each chain's garbage is collected with it, where separate processes\n")
		r.printf("differ from each other by more than the effect measured.\n")
	}
	r.printf("A run's interval covers its own rounds only, and runs of the same code minutes apart differ\n")
	r.printf("by more than that on this VM, so the time goals are also judged *across runs*: on every\n")
	code := "Go code other than tests and\nthe report's"
	if r.readSameCode().linked {
		code = "the Go code, tests aside, or an embedded\nfile of a package the run's programs link"
	}
	r.printf("committed run of the code measured (the last commit that changed %s, a go.mod, go.sum,\n", code)
	r.printf("go.work or go.work.sum, or the run's script or Makefile) with the same Go toolchain, machine and\n")
	r.printf("headline layout, %s; from %d runs on, on the sign-test interval of the runs' medians (widened by the\n", r.thisRunInSeries(got, layout), minRuns)
	r.printf("0.05 points the reports' rounding may hide), before that met or missed only when every\n")
	r.printf("run's own verdict is, and never on one run.\n")
	r.printf("Allocation counts are exact: met or missed as measured.\n\n")
	r.printf("| goal | measured | verdict |\n| --- | --- | --- |\n")
	// row prints a goal's row and keeps it for the summary, measured in short there.
	row := func(goal, measured, short, verdict string) {
		r.printf("| %s | %s | %s |\n", goal, measured, verdict)
		r.sum.goals = append(r.sum.goals, goalRow{goal, short, verdict})
	}
	allocGoal := func(name, chain string, max float64) {
		if g, ok := got[chain]; ok {
			m := fmt.Sprintf("%s allocs", numAt(g.allocs, max, 2, "%+.*f"))
			row(fmt.Sprintf("%s: ≤ %s allocs over raw", name, goalFigure(max)), m, m,
				map[bool]string{true: verdictMet, false: verdictMissed}[g.allocs <= max])
		}
	}
	inSeries := func(e estimate) estimate { return inSeries(e, layout) }
	allocGoal("full suite + promobs", "suite", goalSuiteAllocs)
	if g, ok := got["suite"]; ok {
		e := g.r.ci()
		m := fmt.Sprintf("%s (%s, %d rounds)%s", pctCIAt(e, goalSuiteTime), layout, e.n, spanText(e, &suiteProcs, 0, goalSuiteTime))
		name := suiteTimeGoal(goalSuiteTime)
		v := verdictAcross(e, &suiteProcs, goalSuiteTime)
		row(name, m, m, v)
		r.acrossRunsRow(name, inSeries(e), v, suiteTime, goalSuiteTime, row)
	}
	allocGoal("built-in ml profile + promobs", "suite_builtin", goalBuiltinAllocs)
	s, ok1 := got["suite"]
	f, ok2 := got["failsafe"]
	// The failsafe-go goal needs both chains; the lines after it read the suite at most.
	if ok1 && ok2 {
		{
			// Judged as a product, so that failsafe-go's allocating no more than raw still judges
			// the suite; the share is printed when it is one.
			m := fmt.Sprintf("%s against %+.2f", numAt(s.allocs, goalFailsafeShare*f.allocs, 2, "%+.*f"), f.allocs)
			if f.allocs > 0 {
				m += fmt.Sprintf(": %s×", numAt(s.allocs/f.allocs, goalFailsafeShare, 2, "%.*f"))
			}
			row("suite's overhead ≤ ½ failsafe-go's: allocs", m, m,
				map[bool]string{true: verdictMet, false: verdictMissed}[s.allocs <= goalFailsafeShare*f.allocs])
		}
		d := halfGap(s.r, f.r, goalFailsafeShare)
		share := "—"
		if sm, fm := s.r.ci().med, f.r.ci().med; fm > 1 && s.r.rounds > 0 {
			share = fmt.Sprintf("%.2f×", (sm-1)/(fm-1))
		}
		perProc := perProcessOf(paired, procsIn(paired), func(in []sample) []float64 {
			return halfGapValues(pairedRatio(in, "suite", "ns/op"), pairedRatio(in, "failsafe", "ns/op"), goalFailsafeShare)
		})
		gap := pctCIAt(shift(d, 1), 1) + spanText(d, &perProc, 1, 0)
		measured := func(gap string) string {
			return fmt.Sprintf("suite %s, failsafe-go %s (medians; overheads %s); per round, suite's overhead − ½ failsafe-go's, in raw's time: %s",
				medPct(s.r.ci()), medPct(f.r.ci()), share, gap)
		}
		short := measured(gap)
		// With enough processes for the spread, the verdict reads the spread, and each process's
		// own figure is in the table of processes: listed only when the verdict rests on them.
		if _, spread := acrossProcesses(d, &perProc); !spread && len(perProc.est) > 1 && !agree(perProc.est) {
			var ps []string
			for i, e := range perProc.est {
				mark := ""
				if !overlapsAll(perProc.est, i) {
					mark = " †"
				}
				ps = append(ps, pctCIAt(shift(e, 1), 1)+mark)
			}
			gap += "; per process: " + strings.Join(ps, ", ")
		}
		gapVerdict := verdictAcross(d, &perProc, 0)
		row("suite's overhead ≤ ½ failsafe-go's: time", measured(gap), short, gapVerdict)
		r.acrossRunsRow("suite's overhead ≤ ½ failsafe-go's: time", inSeries(shift(d, 1)), gapVerdict, halfGapTime, 1, row)
		r.printf("\nThe time half of the failsafe-go goal is judged on the per-round difference of overheads,\n")
		r.printf("(suite − raw) − ½ (failsafe-go − raw) over raw, all three from the same round, rather than on\n")
		r.printf("a ratio of two overheads: a ratio's denominator is itself noisy and the ratio has no useful\n")
		r.printf("interval, where the difference is a plain per-round value with a sign-test interval. Met\n")
		r.printf("when that interval lies at or below 0.\n")
		if k := perProc.measured(); k >= minClusters {
			sm, gm := processMedians(&suiteProcs), shift(processMedians(&perProc), 1)
			r.printf("\nThe process-level interval the report judged until 55b19fb, the sign-test interval of the\n")
			r.printf("%d processes' own medians: the suite %s, the suite's overhead − ½ failsafe-go's %s.\n", k, pctCI(sm), pctCI(gm))
		}
	}
	if t, ok := got["grpc_timeout"]; ok && ok1 {
		floor := halfGap(s.r, t.r, 1)
		r.printf("\nFor reading the goals, not a goal: the suite's overhead above the `grpc_timeout` chain's\n")
		r.printf("(grpc's own 5 s deadline from the service config, which the suite's per-attempt timeout\n")
		r.printf("becomes), per round, in raw's time: %s; the `grpc_timeout` chain itself %s.\n", pctCI(shift(floor, 1)), pctCI(t.r.ci()))
		r.sum.notes = append(r.sum.notes, fmt.Sprintf("The suite's overhead above the `grpc_timeout` chain's, per round: %s.", pctCI(shift(floor, 1))))
	}
	if o, ok := got["suite_ownctx"]; ok && ok1 {
		saved := halfGap(o.r, s.r, 1)
		r.printf("\nWhat the service config saves: the same suite dialed without it (`suite_ownctx`, a context\n")
		r.printf("per attempt of its own) costs %s and %+.2f allocations; per round, over the suite:\n", pctCI(o.r.ci()), o.allocs)
		r.printf("%s. Without it, the `timeout` chain (a bare 5 s `context.WithTimeout`) is the floor: %s.\n", pctCI(shift(saved, 1)), pctCIOf(got, "timeout"))
		r.sum.notes = append(r.sum.notes, fmt.Sprintf("What the service config saves: the suite dialed without it (`suite_ownctx`) costs %s (%+.2f allocs), per round %s over the suite.",
			pctCI(o.r.ci()), o.allocs, pctCI(shift(saved, 1))))
	}
	// The calibration needs spin1us's rounds and raw's time in the paired layout: without
	// either (no round holds both spin1us and raw, or the per-process layout) it has no figure.
	raw := median(values(filter(paired, pairedBench, 0, map[string]string{"chain": "raw"}), "ns/op"))
	if sp, ok := got["spin1us"]; ok && sp.r.rounds > 0 && raw > 0 {
		e := sp.r.ci()
		r.printf("\nCalibration: 1 µs that the caller spins before each call (`spin1us`) costs %s of raw's\n", pctCI(e))
		r.printf("time here, about %.1f µs of a %.0f µs call: a microsecond of the suite's own CPU time\n", (e.med-1)*raw/1000, raw/1000)
		r.printf("(`BenchmarkSuiteOwn`) weighs about that much in place.\n")
		note := fmt.Sprintf("Calibration: 1 µs the caller spins before each call (`spin1us`) costs %s, about %.1f µs of a %.0f µs call", pctCI(e), (e.med-1)*raw/1000, raw/1000)
		if sp2, ok := got["spin2us"]; ok && sp2.r.rounds > 0 {
			e2, d := sp2.r.ci(), shift(halfGap(sp2.r, sp.r, 1), 1)
			r.printf("Spinning 2 µs (`spin2us`) costs %s, about %.1f µs; its second microsecond, per round,\n", pctCI(e2), (e2.med-1)*raw/1000)
			r.printf("%s (spin2us − spin1us), the first %s.\n", pctCI(d), pctCI(e))
			note += fmt.Sprintf("; 2 µs (`spin2us`) %s, its second microsecond, per round, %s", pctCI(e2), pctCI(d))
		}
		r.sum.notes = append(r.sum.notes, note+".")
	}
	if o, ok := got["offpath"]; ok && ok1 {
		// offpath's suite runs without a connection, so it makes its own attempt contexts: it
		// is compared with the suite dialed without its service config when there is one.
		around, name := s, "suite"
		if so, ok := got["suite_ownctx"]; ok {
			around, name = so, "suite_ownctx"
		}
		wrap := halfGap(around.r, o.r, 1)
		rawCPU := median(values(filter(paired, pairedBench, 0, map[string]string{"chain": "raw"}), "cpu-ns/op"))
		cpu := ""
		if c := pairedRatio(paired, "offpath", "cpu-ns/op").ci(); c.n > 0 && rawCPU > 0 {
			cpu = fmt.Sprintf(" (%+.1f µs of the process's CPU per call)", (c.med-1)*rawCPU/1000)
		}
		r.printf("\nWork or wrapping: the suite's own work done beside the call, not around it (`offpath`: the\n")
		r.printf("suite around an invoker that only reads the context, then the call outside it), costs\n")
		r.printf("%s%s; the suite around the call (`%s`, which makes the same contexts) %s. Per round,\n", pctCI(o.r.ci()), cpu, name, pctCI(around.r.ci()))
		r.printf("what wrapping the call adds to the work (%s − offpath): %s.\n", name, pctCI(shift(wrap, 1)))
		r.sum.notes = append(r.sum.notes, fmt.Sprintf("Work or wrapping: the suite's work done beside the call instead of around it (`offpath`) costs %s%s; what wrapping the call adds to it, per round: %s.",
			pctCI(o.r.ci()), cpu, pctCI(shift(wrap, 1))))
	}
}

// goalFigure prints a goal's bound x (allocations, or per cent over raw) with its sign and as
// many decimals as it has (up to 6, without the float's tail): +8, +7.5. A bound rounded to a
// whole number would name a goal other than the one judged, and the across-run series reads
// a past run's goal back from its row (parseRun).
func goalFigure(x float64) string {
	s := strconv.FormatFloat(math.Round(x*1e6)/1e6, 'f', -1, 64)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// suiteTimeGoal is the name of the suite's time goal, a bound goal on its ratio to raw, as its
// row in the goals table gives it (suiteTime reads it back).
func suiteTimeGoal(goal float64) string {
	return fmt.Sprintf("full suite + promobs: ≤ %s %% time over raw", goalFigure((goal-1)*100))
}

// inSeries is this run's figure e, measured in layout, for the runs across which a time goal
// is judged, which are of the paired layout (suiteTime and halfGapTime read its figures
// alone): a run of the per-process layout is none of them (estimate{}: no run).
// acrossRunsRow counts it as a run only when it has an interval.
func inSeries(e estimate, layout string) estimate {
	if layout != "paired" {
		return estimate{}
	}
	return e
}

// thisRunInSeries says, for the goals' text, whether this run is one of the runs the time
// goals (those got measures) are judged across, as acrossRunsRow counts it, and why not.
func (r *report) thisRunInSeries(got map[string]ratioAllocs, layout string) string {
	if !r.readSameCode().ok {
		return "this\none would be included, but its code cannot be told (its commit is unknown or has\nuncommitted changes, or there is no git history): this report has no across-run rows"
	}
	var in, out []string
	add := func(name string, e estimate) {
		if inSeries(e, layout).ok {
			in = append(in, name)
		} else {
			out = append(out, name)
		}
	}
	s, ok1 := got["suite"]
	f, ok2 := got["failsafe"]
	if ok1 {
		add("the suite's time", s.r.ci())
	}
	if ok1 && ok2 {
		add("the failsafe-go time goal", shift(halfGap(s.r, f.r, goalFailsafeShare), 1))
	}
	why := "too few rounds for an interval"
	if layout != "paired" {
		why = "its figures are of the " + layout + " layout, the series' of the paired one"
	}
	switch {
	case len(in) == 0 && len(out) == 0:
		return "this\none none of them: it measured no time goal (no across-run rows)"
	case len(out) == 0:
		return "this\none included"
	case len(in) == 0:
		return "this\none left out (" + why + ")"
	}
	return "this\none left out of the series of " + strings.Join(out, " and ") + " (" + why + "), included in\nthe others"
}

// medPct prints a ratio's median as a percentage over raw, +5.1 %, or "—" without one.
func medPct(e estimate) string {
	if e.n == 0 {
		return "—"
	}
	return fmt.Sprintf("%+.1f %%", (e.med-1)*100)
}

// pctCIOf is chain's ratio to raw as pctCI prints it, or "not measured".
func pctCIOf(got map[string]ratioAllocs, chain string) string {
	if g, ok := got[chain]; ok {
		return pctCI(g.r.ci())
	}
	return "not measured"
}

// halfGap returns, for every round holding both ratios, (s − 1) − share·(f − 1) (the suite's
// overhead minus share of failsafe-go's, as a fraction of raw's time), as a median with its
// interval. The goal is met when it is at most 0.
func halfGap(s, f ratio, share float64) estimate { return medianCI(halfGapValues(s, f, share)) }

// halfGapValues returns halfGap's per-round values, in round order.
func halfGapValues(s, f ratio, share float64) []float64 {
	rounds := make([]int, 0, len(s.byRound))
	for k := range s.byRound {
		if _, ok := f.byRound[k]; ok {
			rounds = append(rounds, k)
		}
	}
	slices.Sort(rounds)
	ds := make([]float64, len(rounds))
	for i, k := range rounds {
		ds[i] = (s.byRound[k] - 1) - share*(f.byRound[k]-1)
	}
	return ds
}

// shift returns e with every bound plus x.
func shift(e estimate, x float64) estimate {
	e.med, e.lo, e.hi = e.med+x, e.lo+x, e.hi+x
	return e
}

// pctCI prints a ratio's median and interval as percentages over raw: +5.1 % [+4.0 – +6.3 %].
func pctCI(e estimate) string {
	return e.formatPct(func(x float64) string { return fmt.Sprintf("%+.1f", (x-1)*100) })
}

// formatPct prints the median and its interval as percentages over raw, each figure printed
// by f (without the sign of percent).
func (e estimate) formatPct(f func(float64) string) string { return e.formatIn(f, " %", "rounds") }

// formatIn prints the median and its interval with each figure printed by f and followed by
// unit ("+9.6 % [+8.0 – +10.9 %]"), or, without an interval, how many values (of: "rounds")
// the median is of.
func (e estimate) formatIn(f func(float64) string, unit, of string) string {
	switch {
	case e.n == 0:
		return "—"
	case !e.ok:
		return fmt.Sprintf("%s%s (no interval: %d %s)", f(e.med), unit, e.n, of)
	}
	return fmt.Sprintf("%s%s [%s – %s%s]", f(e.med), unit, f(e.lo), f(e.hi), unit)
}

// pctAt prints a ratio x as a percentage over raw, +5.1 %'s figure without the sign of
// percent, to one decimal, or to as many more (up to 6) as it takes for the figure printed to
// lie on the same side of goal (a bound on the ratio, as goalVerdict reads it) as x does: an
// upper bound of 1.0804 against ≤ 1.08 reads +8.04, not +8.0, which would say it is within.
func pctAt(x, goal float64) string {
	g := math.Round((goal-1)*100*1e9) / 1e9 // the goal in per cent, without the float's tail
	s := ""
	for d := 1; d <= 6; d++ {
		s = fmt.Sprintf("%+.*f", d, (x-1)*100)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || (v <= g) == (x <= goal) {
			break
		}
	}
	return s
}

// numAt prints x by format (a verb taking the decimals, "%+.*f") to from decimals, or to as
// many more (up to 6) as it takes for the figure printed to lie on the same side of goal (at or
// below it, or beyond it) as x does: the allocation goals judge the medians as measured, and a
// median of 12.004 allocations over raw, missed against ≤ +12, reads +12.004, not +12.00.
func numAt(x, goal float64, from int, format string) string {
	s := ""
	for d := from; d <= 6; d++ {
		s = fmt.Sprintf(format, d, x)
		if v, err := strconv.ParseFloat(s, 64); err != nil || (v <= goal) == (x <= goal) {
			break
		}
	}
	return s
}

// pctCIAt is pctCI with every figure printed by pctAt against goal, so that none contradicts
// the verdict goalVerdict gives e against goal.
func pctCIAt(e estimate, goal float64) string {
	return e.formatPct(func(x float64) string { return pctAt(x, goal) })
}

// ratioAt prints a ratio to three decimals, or to as many more (up to 6) as it takes not to
// print 1.000 for a ratio that is not 1: whether an interval holds 1 is read from its figures.
func ratioAt(x float64) string {
	s := ""
	for d := 3; d <= 6; d++ {
		s = fmt.Sprintf("%.*f", d, x)
		if v, err := strconv.ParseFloat(s, 64); err != nil || (v == 1) == (x == 1) {
			break
		}
	}
	return s
}

// againstOne is String with every figure printed by ratioAt.
func (e estimate) againstOne() string { return e.format(ratioAt) }

// pctAtOne prints a ratio x as a percentage over raw, as pctAt does, to one decimal or to as
// many more (up to 6) as it takes not to print 0.0 for a ratio that is not 1: ratioAt's
// percentage, for a figure read for whether its interval holds 0 %.
func pctAtOne(x float64) string {
	s := ""
	for d := 1; d <= 6; d++ {
		s = fmt.Sprintf("%+.*f", d, (x-1)*100)
		if v, err := strconv.ParseFloat(s, 64); err != nil || (v == 0) == (x == 1) {
			break
		}
	}
	return s
}

// pctAgainstOne is pctCI with every figure printed by pctAtOne.
func (e estimate) pctAgainstOne() string { return e.formatPct(pctAtOne) }
