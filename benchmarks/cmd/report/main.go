// Command report writes the generated benchmark report (benchmarks/results/report.md) from the
// outputs make report collects: ratios to the raw call measured in the same rounds (wall and
// CPU time), allocation differences, serial and parallel calls at GOMAXPROCS 1 and 2, cost
// against the number of configured methods and services, memory per in-flight call and the
// policies' hot paths, with the machine, the commit and the layout, and benchstat's confidence
// intervals.
//
//	go run ./cmd/report -dir results -benchstat ../bin/benchstat > results/report.md
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// sample is one benchmark result line.
type sample struct {
	bench  string            // BenchmarkUnaryDL
	keys   map[string]string // chain=suite, mode=serial, configured=methods, n=100...
	name   string            // the sub-benchmark path without the GOMAXPROCS suffix
	procs  int               // GOMAXPROCS (1 when the name has no suffix)
	round  int               // "# round N" marker before it (0 when none)
	iters  int               // the iteration count (calls measured)
	proc   int               // "# process N" marker before it (0 when none)
	values map[string]float64
}

var (
	resultLine = regexp.MustCompile(`^(Benchmark\w+)((?:/[^\s]+?)?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)
	roundLine  = regexp.MustCompile(`^# round (\d+)`)
	procLine   = regexp.MustCompile(`^# process (\d+)`)
)

func parse(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []sample
	round, proc := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := roundLine.FindStringSubmatch(line); m != nil {
			round, _ = strconv.Atoi(m[1])
			continue
		}
		if m := procLine.FindStringSubmatch(line); m != nil {
			proc, _ = strconv.Atoi(m[1])
			continue
		}
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := sample{bench: m[1], name: strings.TrimPrefix(m[2], "/"), procs: 1, round: round, proc: proc,
			keys: map[string]string{}, values: map[string]float64{}}
		if m[3] != "" {
			s.procs, _ = strconv.Atoi(m[3])
		}
		for _, part := range strings.Split(s.name, "/") {
			if k, v, ok := strings.Cut(part, "="); ok {
				s.keys[k] = v
			}
		}
		s.iters, _ = strconv.Atoi(m[4])
		fs := strings.Fields(m[5])
		for i := 0; i+1 < len(fs); i += 2 {
			v, err := strconv.ParseFloat(fs[i], 64)
			if err == nil {
				s.values[fs[i+1]] = v
			}
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedMedian(s)
}

// filter returns the samples of bench whose keys match want and whose GOMAXPROCS is procs
// (0: any).
func filter(ss []sample, bench string, procs int, want map[string]string) []sample {
	var out []sample
	for _, s := range ss {
		if s.bench != bench || (procs != 0 && s.procs != procs) {
			continue
		}
		ok := true
		for k, v := range want {
			if s.keys[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func values(ss []sample, unit string) []float64 {
	var out []float64
	for _, s := range ss {
		if v, ok := s.values[unit]; ok {
			out = append(out, v)
		}
	}
	return out
}

// ratio is a chain's time over raw's: the median of the per-round ratios (each round measures
// both), with their range; without round markers, the ratio of the medians.
type ratio struct {
	med, lo, hi float64
	rounds      int
	byRound     map[int]float64 // the ratio of each round
}

// ci returns the median of the per-round ratios with its sign-test confidence interval.
func (r ratio) ci() estimate { return medianCI(r.inOrder()) }

// inOrder returns the per-round ratios in round order.
func (r ratio) inOrder() []float64 {
	keys := make([]int, 0, len(r.byRound))
	for k := range r.byRound {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]float64, len(keys))
	for i, k := range keys {
		out[i] = r.byRound[k]
	}
	return out
}

func (r ratio) String() string {
	if r.rounds == 0 {
		return "—"
	}
	if r.rounds == 1 {
		return fmt.Sprintf("%.3f", r.med)
	}
	return fmt.Sprintf("%.3f [%.3f–%.3f]", r.med, r.lo, r.hi)
}

func pct(r ratio) string {
	if r.rounds == 0 {
		return "—"
	}
	return fmt.Sprintf("%+.1f %%", (r.med-1)*100)
}

func ratioOf(chain, raw []sample) ratio { return ratioIn(chain, raw, "ns/op") }

// ratioIn is ratioOf for another unit (cpu-ns/op); samples without it are left out.
func ratioIn(chain, raw []sample, unit string) ratio {
	byRound := func(ss []sample) map[int][]float64 {
		m := map[int][]float64{}
		for _, s := range ss {
			if v, ok := s.values[unit]; ok {
				m[s.round] = append(m[s.round], v)
			}
		}
		return m
	}
	c, r := byRound(chain), byRound(raw)
	var rs []float64
	by := map[int]float64{}
	for k, cv := range c {
		if rv, ok := r[k]; ok && median(rv) > 0 {
			rs = append(rs, median(cv)/median(rv))
			by[k] = rs[len(rs)-1]
		}
	}
	if len(rs) == 0 {
		return ratio{}
	}
	slices.Sort(rs)
	return ratio{med: median(rs), lo: rs[0], hi: rs[len(rs)-1], rounds: len(rs), byRound: by}
}

type ratioAllocs struct {
	r      ratio
	allocs float64
}

// chainText says what each chain is.
var chainText = map[string]string{
	"raw":           "no interceptor (the baseline)",
	"raw2":          "no interceptor, a second connection: the A/A control (÷ raw)",
	"retry":         "bulwark retry alone (ml profile's, no per-attempt timeout)",
	"breaker":       "bulwark breaker alone",
	"bulkhead":      "bulwark bulkhead alone",
	"ratelimit":     "bulwark rate limit alone",
	"deadline":      "bulwark deadline alone (5 s default)",
	"suite":         "**full suite + promobs**: retry (5 s per attempt, budget 10/0.1) + breaker + limiter + bulkhead + deadline, 8 s budget; dialed with its service config, as every suite chain",
	"suite_ownctx":  "the full suite + promobs dialed without its service config: a context of its own per attempt",
	"grpc_timeout":  "no interceptor; the service config gives the method a 5 s timeout: grpc's own per-call deadline",
	"suite_nosink":  "the same suite, no observer",
	"suite_builtin": "**built-in ml profile + promobs** (adds hedge, adaptive throttle, adaptive bulkhead; 5 s per attempt)",
	"failsafe":      "failsafe-go: timeout 5 s + retry + breaker + limiter + bulkhead",
	"grpcmw_retry":  "go-grpc-middleware retry alone",
	"timeout":       "a bare 5 s `context.WithTimeout` per call, no policy: Go's price of any per-attempt deadline",
	"spin1us":       "no policy: the caller spins 1 µs before the call (calibration: what a microsecond of client work costs here)",
	"retry_5s":      "bulwark retry alone with the suite's 5 s per attempt (ladder)",
	"suite_retry":   "the suite with retry alone configured (5 s per attempt, 8 s budget), no observer (ladder)",
	"spin2us":       "no policy: the caller spins 2 µs before the call (calibration)",
	"offpath":       "diagnostic: the full suite + promobs run beside the call (around an invoker that only reads the context), the call made outside it",
}

var canonical = []string{"raw", "raw2", "retry", "breaker", "bulkhead", "ratelimit", "deadline",
	"suite", "suite_nosink", "suite_builtin", "failsafe", "grpcmw_retry", "timeout", "spin1us", "offpath", "suite_ownctx", "grpc_timeout", "retry_5s", "suite_retry", "spin2us"}

func chainsIn(ss []sample) []string {
	var out []string
	for _, s := range ss {
		if c := s.keys["chain"]; c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		ia, ib := slices.Index(canonical, a), slices.Index(canonical, b)
		if ia < 0 {
			ia = len(canonical)
		}
		if ib < 0 {
			ib = len(canonical)
		}
		return ia - ib
	})
	return out
}

type report struct {
	w         io.Writer
	dir       string
	benchstat string
	envs      map[string]string // env.txt's lines, by key
	same      sameCode          // the committed reports of the same measured code (readSameCode)
	sum       summary           // what BENCHMARKS.md shows of the report (see summary)
	own       []sample          // BenchmarkSuiteOwn and BenchmarkSuiteOwnCold (own.out), for the ladder
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

// chainTableHead prints the head of a chain-by-chain table whose ratios are given as spread
// (the interval's description) and returns raw's allocations and bytes per call and whether
// the samples have CPU times (a CPU column).
func (r *report) chainTableHead(raw []sample, spread string) (allocs, bytes float64, cpu bool) {
	cpu = len(values(raw, "cpu-ns/op")) > 0
	head, rule := "", ""
	if cpu {
		head, rule = " CPU × raw ("+strings.Replace(spread, " of rounds", "", 1)+") |", " ---: |"
	}
	r.printf("| chain | what | ns/op | time × raw (%s) | over raw |%s allocs/op | allocs over raw | B/op over raw |\n", spread, head)
	r.printf("| --- | --- | ---: | ---: | ---: |%s ---: | ---: | ---: |\n", rule)
	return median(values(raw, "allocs/op")), median(values(raw, "B/op")), cpu
}

// overheadTable prints one chain-by-chain table of bench at mode and procs (0: any, for a
// layout run at one GOMAXPROCS).
func (r *report) overheadTable(ss []sample, bench, mode string, procs int) map[string]ratioAllocs {
	raw := filter(ss, bench, procs, map[string]string{"chain": "raw", "mode": mode})
	if len(raw) == 0 {
		r.printf("(no raw samples)\n")
		return nil
	}
	ra, rb, cpu := r.chainTableHead(raw, "median of rounds [range]")
	got := map[string]ratioAllocs{}
	for _, c := range chainsIn(filter(ss, bench, procs, map[string]string{"mode": mode})) {
		cs := filter(ss, bench, procs, map[string]string{"chain": c, "mode": mode})
		rt := ratioOf(cs, raw)
		a, b := median(values(cs, "allocs/op")), median(values(cs, "B/op"))
		col := ""
		if cpu {
			col = " " + ratioIn(cs, raw, "cpu-ns/op").String() + " |"
		}
		r.printf("| %s | %s | %.0f | %s | %s |%s %.0f | %+.0f | %+.0f |\n", c, chainText[c],
			median(values(cs, "ns/op")), rt, pct(rt), col, a, a-ra, b-rb)
		got[c] = ratioAllocs{rt, a - ra}
	}
	if cpu {
		r.printf("\n*CPU × raw* is the process's CPU time per call (getrusage: user + system, every thread,\n")
		r.printf("the server's share and the garbage collector included) over raw's in the same round: time\n")
		r.printf("spent waiting for a core is not in it, so on a loaded machine it says more than the wall time.\n")
	}
	return got
}

func (r *report) env() {
	data, err := os.ReadFile(filepath.Join(r.dir, "env.txt"))
	if err != nil {
		r.printf("(no env.txt: %v)\n", err)
		return
	}
	r.printf("| | |\n| --- | --- |\n")
	r.envs = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		r.envs[k] = v
		r.printf("| %s | %s |\n", k, strings.ReplaceAll(v, "|", "\\|"))
	}
}

func (r *report) benchstatOf(title, file string, args ...string) {
	if r.benchstat == "" {
		return
	}
	out, err := exec.Command(r.benchstat, append(args, filepath.Join(r.dir, file))...).CombinedOutput()
	if err != nil {
		out = append(out, []byte("\n(benchstat: "+err.Error()+")")...)
	}
	r.printf("\n<details><summary>%s</summary>\n\n```\n%s\n```\n\n</details>\n", title, bytes.TrimSpace(out))
}

func main() {
	dir := flag.String("dir", "results", "directory holding the outputs of make report")
	bs := flag.String("benchstat", "", "benchstat binary (empty: no benchstat sections)")
	sum := flag.String("summary", "", "a file (BENCHMARKS.md) whose report summary block to rewrite with the headline and the goals (empty: none)")
	ab := flag.Bool("ab", false, "write the A/B of two commits (make ab) from -dir's ab_old.out, ab_new.out and ab_env.txt instead of the report")
	flag.Parse()
	if *ab {
		if err := abReport(*dir); err != nil {
			fmt.Fprintf(os.Stderr, "report: no A/B written: %v\n", err)
			os.Exit(1)
		}
		return
	}
	r := &report{w: os.Stdout, dir: *dir, benchstat: *bs}
	// Every output of scripts/report.sh is read before anything is written: one that cannot be
	// read ends the command, rather than a report whose section is missing or whose verdicts
	// fall back to another layout.
	var failed []string
	load := func(name string) []sample {
		ss, err := parse(filepath.Join(*dir, name))
		if err != nil {
			failed = append(failed, err.Error())
		}
		return ss
	}
	paired, head, nodl, inflight, stack, hot := load("paired.out"), load("headline.out"), load("nodeadline.out"),
		load("inflight.out"), load("stack.out"), load("hotpath.out")
	shared, slow := load("paired_shared.out"), load("paired_1ms.out")
	ownConf := load("ownconfigured.out")
	r.own = load("own.out")
	configured, err := configuredRows(*dir)
	if err != nil {
		failed = append(failed, err.Error())
	}
	if _, err := os.Stat(filepath.Join(*dir, "env.txt")); err != nil {
		failed = append(failed, err.Error())
	}
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "report: no report written: %s\n", strings.Join(failed, "; "))
		os.Exit(1)
	}

	r.printf("# Benchmark report\n\n")
	r.printf("Generated by `make -C benchmarks report` (`cmd/report`); do not edit by hand — run it again.\n")
	r.printf("Every ratio is to the raw call measured in the same rounds. Allocation counts are exact and\n")
	r.printf("repeat from run to run; times on a shared 2-core machine do not, so read them with the\n")
	r.printf("confidence intervals and ranges given, and benchstat's below. bufconn runs client and server in one\n")
	r.printf("process: B/op and allocs/op include the server's share, the same for every chain.\n\n")
	r.printf("## Machine, commit, layout\n\n")
	r.env()

	r.printf("\n## Headline: unary call with a 10 s caller deadline, serial\n\n")
	r.headline(paired, head)
	r.sum.shared = r.pairedSection(shared, "A caller deadline shared by 500 calls: the HPACK effect", sharedText)
	rawNs := median(values(filter(paired, pairedBench, 0, map[string]string{"chain": "raw"}), "ns/op"))
	var suite estimate
	if g, ok := r.sum.paired["suite"]; ok {
		suite = g.r.ci()
	}
	r.sum.slow = r.pairedSection(slow, "A 1 ms call: the services' regime", slowTextOf(rawNs, suite))

	r.printf("\n## GOMAXPROCS 1 and 2\n\n")
	r.printf("The same calls at `-cpu 1,2` (same processes as the headline): serial (one caller) and under\n")
	r.printf("`b.RunParallel` (GOMAXPROCS callers).\n\n")
	r.gomaxprocsTable(head)

	r.printf("\n## Without a caller deadline\n\n")
	r.printf("`BenchmarkUnary`, serial: the call has no deadline, so the suite's deadline step sets one\n")
	r.printf("(5 s default) and grpc-go pays for sending it (`deadline` alone shows that cost), which the\n")
	r.printf("raw call and failsafe-go's timeout (a timer, never sent) do not. All chains in one process,\n")
	r.printf("one benchmark run per chain per round, the chain order rotated each round.\n\n")
	// The layout runs without -cpu, at the machine's GOMAXPROCS: its one setting, whatever it is.
	r.overheadTable(nodl, "BenchmarkUnary", "serial", 0)

	r.configured(configured)

	if len(ownConf) > 0 {
		r.printf("\nThe gRPC round trip's noise hides a change of a few hundred nanoseconds in the table above.\n")
		r.printf("`BenchmarkSuiteOwnConfigured` measures the suite's own work per call without gRPC (an\n")
		r.printf("invoker that only reads the context's deadline and Done channel, on a connection dialed\n")
		r.printf("with the suite's service config), with the same\n")
		r.printf("configurations, each method or service called once first (the measured method before\n")
		r.printf("them, so that it keeps a method label of its own: promobs labels the first 1 000 method\n")
		r.printf("names it sees, and a later one costs a lookup more per event); the median of its runs.\n\n")
		r.printf("| configured | n | suite's own ns/call | × n=1 | cpu-ns/call | allocs/call |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, kind := range []string{"methods", "services"} {
			base := median(values(filter(ownConf, "BenchmarkSuiteOwnConfigured", 0, map[string]string{"configured": kind, "n": "1"}), "ns/op"))
			for _, n := range []string{"1", "100", "10000"} {
				ss := filter(ownConf, "BenchmarkSuiteOwnConfigured", 0, map[string]string{"configured": kind, "n": n})
				if len(ss) == 0 {
					continue
				}
				ns := median(values(ss, "ns/op"))
				rel := "—"
				if base > 0 {
					rel = fmt.Sprintf("%.3f", ns/base)
				}
				r.printf("| %s | %s | %.0f | %s | %.0f | %.0f |\n", kind, n, ns, rel, median(values(ss, "cpu-ns/op")), median(values(ss, "allocs/op")))
			}
		}
	}

	r.printf("\n## Memory per in-flight call\n\n")
	r.printf("`BenchmarkInflight`: 64 calls (caller deadline) held at the server; live heap after a GC and\n")
	r.printf("goroutine stacks, against the same process at rest, per call (server share included).\n\n")
	r.printf("| chain | heap B/call | over raw | stack B/call | over raw |\n| --- | ---: | ---: | ---: | ---: |\n")
	rawIn := filter(inflight, "BenchmarkInflight", 0, map[string]string{"chain": "raw"})
	rh, rs := median(values(rawIn, "heap-B/call")), median(values(rawIn, "stack-B/call"))
	for _, c := range chainsIn(inflight) {
		cs := filter(inflight, "BenchmarkInflight", 0, map[string]string{"chain": c})
		h, s := median(values(cs, "heap-B/call")), median(values(cs, "stack-B/call"))
		r.printf("| %s | %.0f | %+.0f | %.0f | %+.0f |\n", c, h, h-rh, s, s-rs)
	}

	if len(stack) > 0 {
		r.printf("\n`BenchmarkStackDepth`: the caller's goroutine stack a chain uses before it calls grpc's\n")
		r.printf("invoker (exact: stack addresses noted outside the chain and in the invoker). A call from a\n")
		r.printf("fresh goroutine (a server handler calling out) copies its stack to 16 KB once the chain and\n")
		r.printf("grpc's own path pass the first 8 KB.\n\n")
		r.printf("| chain | stack B before the invoker | over raw |\n| --- | ---: | ---: |\n")
		rk := median(values(filter(stack, "BenchmarkStackDepth", 0, map[string]string{"chain": "raw"}), "chain-B"))
		for _, c := range chainsIn(stack) {
			k := median(values(filter(stack, "BenchmarkStackDepth", 0, map[string]string{"chain": c}), "chain-B"))
			r.printf("| %s | %.0f | %+.0f |\n", c, k, k-rk)
		}
	}

	r.printf("\n## Policy hot paths (no gRPC)\n\n")
	r.printf("| benchmark | ns/op serial | ns/op parallel | allocs/op |\n| --- | ---: | ---: | ---: |\n")
	var names []string
	for _, s := range hot {
		base := strings.TrimSuffix(strings.TrimSuffix(s.name, "/mode=serial"), "/mode=parallel")
		if n := s.bench + "/" + base; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		bench, base, _ := strings.Cut(n, "/")
		var ser, par, allocs []float64
		for _, s := range hot {
			if s.bench != bench {
				continue
			}
			switch s.name {
			case base + "/mode=serial":
				ser = append(ser, s.values["ns/op"])
				allocs = append(allocs, s.values["allocs/op"])
			case base + "/mode=parallel":
				par = append(par, s.values["ns/op"])
			}
		}
		r.printf("| %s/%s | %.1f | %.1f | %.0f |\n", strings.TrimPrefix(bench, "Benchmark"), base, median(ser), median(par), median(allocs))
	}

	r.printf("\n## benchstat\n")
	r.printf("\nTime per call, each chain's column against raw's (`benchstat -col /chain -filter .unit:sec/op`);\n")
	r.printf("a confidence interval needs at least 6 rounds. For the paired layout benchstat compares the\n")
	r.printf("chains' distributions of block times, not the rounds' pairs, so its intervals are wider than\n")
	r.printf("the headline's, which take each chain's ratio within its round.\n")
	r.benchstatOf("headline, paired (caller deadline, every chain in one process)", "paired.out", "-col", "/chain", "-filter", ".unit:sec/op")
	r.benchstatOf("caller deadline shared by 500 calls, paired", "paired_shared.out", "-col", "/chain", "-filter", ".unit:sec/op")
	r.benchstatOf("headline, each chain in its own process (caller deadline)", "headline.out", "-col", "/chain", "-filter", ".unit:sec/op")
	r.benchstatOf("without a caller deadline", "nodeadline.out", "-col", "/chain", "-filter", ".unit:sec/op")
	if *sum != "" {
		if err := updateSummary(*sum, &r.sum, r.envs); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
}

// gomaxprocsTable prints the headline's chains at GOMAXPROCS 1 and 2, serial and parallel.
func (r *report) gomaxprocsTable(head []sample) {
	r.printf("| chain | mode | ns/op at 1 | × raw at 1 | ns/op at 2 | × raw at 2 | speed-up 1 → 2 |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, mode := range []string{"serial", "parallel"} {
		for _, c := range chainsIn(filter(head, "BenchmarkUnaryDL", 0, map[string]string{"mode": mode})) {
			var ns [3]float64
			var rt [3]ratio
			for _, p := range []int{1, 2} {
				cs := filter(head, "BenchmarkUnaryDL", p, map[string]string{"chain": c, "mode": mode})
				ns[p] = median(values(cs, "ns/op"))
				rt[p] = ratioOf(cs, filter(head, "BenchmarkUnaryDL", p, map[string]string{"chain": "raw", "mode": mode}))
			}
			// A chain measured at one setting only has no time at the other: "—", as its ratio.
			nsText := func(v float64) string {
				if v > 0 {
					return fmt.Sprintf("%.0f", v)
				}
				return "—"
			}
			sp := "—"
			if ns[1] > 0 && ns[2] > 0 {
				sp = fmt.Sprintf("%.2f×", ns[1]/ns[2])
			}
			r.printf("| %s | %s | %s | %s | %s | %s | %s |\n", c, mode, nsText(ns[1]), rt[1], nsText(ns[2]), rt[2], sp)
		}
	}
}
