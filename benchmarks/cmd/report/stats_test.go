package main

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		main() // the test binary run as cmd/report (TestMissingInput)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// asCommand, set to 1, makes the test binary run main.
const asCommand = "BULWARK_REPORT_TEST_AS_COMMAND"

// TestMissingInput: an output of make report that cannot be read (here paired.out, the
// verdicts' layout) ends cmd/report with an error before it writes anything, instead of a
// report whose verdicts silently fall back to another layout, or lack a section.
func TestMissingInput(t *testing.T) {
	dir := t.TempDir()
	writePaired(t, dir, 20, map[string]float64{"suite": 1.05, "failsafe": 1.14}, 0.01)
	if err := os.Rename(filepath.Join(dir, "paired.out"), filepath.Join(dir, "headline.out")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-dir", dir)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Errorf("cmd/report on a directory without paired.out exited 0 and wrote %d bytes", stdout.Len())
	}
	if stdout.Len() != 0 {
		t.Errorf("cmd/report wrote %d bytes of a report without its inputs", stdout.Len())
	}
	if !strings.Contains(stderr.String(), "paired.out") {
		t.Errorf("stderr %q does not name the missing file", stderr.String())
	}
}

// binomTail returns P(B ≤ j) for B ~ Binomial(n, ½), exactly.
func binomTail(n, j int) float64 {
	sum := new(big.Int)
	for i := 0; i <= j; i++ {
		sum.Add(sum, new(big.Int).Binomial(int64(n), int64(i)))
	}
	p, _ := new(big.Rat).SetFrac(sum, new(big.Int).Lsh(big.NewInt(1), uint(n))).Float64()
	return p
}

func TestSignTestRanks(t *testing.T) {
	tests := []struct {
		n              int
		wantLo, wantHi int
		wantOK         bool
	}{
		{n: 0},
		{n: 5}, // P(B = 0) = 1/32 > 2.5 %: no 95 % interval
		{n: 6, wantLo: 1, wantHi: 6, wantOK: true},
		{n: 12, wantLo: 3, wantHi: 10, wantOK: true},
		{n: 20, wantLo: 6, wantHi: 15, wantOK: true},
		{n: 40, wantLo: 14, wantHi: 27, wantOK: true},
		{n: 200, wantLo: 86, wantHi: 115, wantOK: true},
		{n: 600, wantLo: 276, wantHi: 325, wantOK: true},
	}
	for _, tt := range tests {
		lo, hi, ok := signTestRanks(tt.n, 0.95)
		if lo != tt.wantLo || hi != tt.wantHi || ok != tt.wantOK {
			t.Errorf("signTestRanks(%d, 0.95) = %d, %d, %v; want %d, %d, %v", tt.n, lo, hi, ok, tt.wantLo, tt.wantHi, tt.wantOK)
		}
	}
}

// TestSignTestRanksCoverage checks the ranks against the exact binomial distribution: the
// interval covers the median with probability at least 95 %, and the next narrower one would not.
func TestSignTestRanksCoverage(t *testing.T) {
	for _, n := range []int{6, 7, 9, 10, 25, 51, 100, 199, 300, 1000} {
		lo, hi, ok := signTestRanks(n, 0.95)
		if !ok {
			t.Fatalf("n = %d: no interval", n)
		}
		if hi != n-lo+1 {
			t.Errorf("n = %d: ranks %d, %d not symmetric", n, lo, hi)
		}
		if cover := 1 - 2*binomTail(n, lo-1); cover < 0.95 {
			t.Errorf("n = %d: ranks %d–%d cover %.4f, want ≥ 0.95", n, lo, hi, cover)
		}
		if narrower := 1 - 2*binomTail(n, lo); narrower >= 0.95 {
			t.Errorf("n = %d: ranks %d–%d also cover %.4f: the interval is wider than needed", n, lo+1, hi-1, narrower)
		}
	}
}

func TestMedianCI(t *testing.T) {
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	got := medianCI(xs)
	want := estimate{med: 100.5, lo: 86, hi: 115, n: 200, ok: true}
	if got != want {
		t.Errorf("medianCI(1..200 shuffled) = %+v, want %+v", got, want)
	}
	if e := medianCI([]float64{3, 1, 2}); e.ok || e.med != 2 || e.n != 3 {
		t.Errorf("medianCI of 3 values = %+v, want median 2 and no interval", e)
	}
}

func TestGoalVerdict(t *testing.T) {
	tests := []struct {
		name string
		e    estimate
		goal float64
		want string
	}{
		{"interval below the goal", estimate{med: 1.05, lo: 1.04, hi: 1.06, n: 200, ok: true}, 1.08, verdictMet},
		{"upper bound on the goal", estimate{med: 1.07, lo: 1.06, hi: 1.08, n: 200, ok: true}, 1.08, verdictMet},
		{"interval straddles the goal", estimate{med: 1.07, lo: 1.05, hi: 1.09, n: 200, ok: true}, 1.08, verdictUnknown},
		{"median above, interval straddles", estimate{med: 1.09, lo: 1.07, hi: 1.11, n: 200, ok: true}, 1.08, verdictUnknown},
		{"lower bound on the goal", estimate{med: 1.09, lo: 1.08, hi: 1.10, n: 200, ok: true}, 1.08, verdictUnknown},
		{"interval above the goal", estimate{med: 1.10, lo: 1.09, hi: 1.12, n: 200, ok: true}, 1.08, verdictMissed},
		{"too few rounds", estimate{med: 1.01, n: 4}, 1.08, verdictNoInterval},
		{"no rounds", estimate{}, 1.08, verdictNoMeasure},
	}
	for _, tt := range tests {
		if got := goalVerdict(tt.e, tt.goal); got != tt.want {
			t.Errorf("%s: goalVerdict(%+v, %v) = %q, want %q", tt.name, tt.e, tt.goal, got, tt.want)
		}
	}
}

func TestHalfGap(t *testing.T) {
	s := ratio{byRound: map[int]float64{}}
	f := ratio{byRound: map[int]float64{}}
	for r := range 20 {
		// Overheads: the suite 5 %, failsafe-go 12 % (half is 6 %), ±1 % from round to round.
		wobble := float64(r%3-1) / 100
		s.byRound[r] = 1.05 + wobble
		f.byRound[r] = 1.12 + wobble
	}
	f.byRound[99] = 2 // a round the suite does not have is left out
	e := halfGap(s, f, 0.5)
	if e.n != 20 || !e.ok {
		t.Fatalf("halfGap over %d rounds (interval %v), want 20 with an interval", e.n, e.ok)
	}
	// (0.05 + w) − ½ (0.12 + w) = −0.01 + w/2: at most −0.005.
	if e.hi > -0.005+1e-9 || e.lo < -0.015-1e-9 {
		t.Errorf("halfGap = %v, want within [−0.015, −0.005]", e)
	}
	if got := goalVerdict(e, 0); got != verdictMet {
		t.Errorf("verdict %q, want %q", got, verdictMet)
	}
}

func TestLag1(t *testing.T) {
	alternating := []float64{1, -1, 1, -1, 1, -1, 1, -1}
	if got := lag1(alternating); got > -0.8 {
		t.Errorf("lag1(alternating) = %.2f, want near −1", got)
	}
	trend := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	if got := lag1(trend); got < 0.5 {
		t.Errorf("lag1(trend) = %.2f, want well above 0", got)
	}
	if got := lag1([]float64{1, 1, 1}); got != 0 {
		t.Errorf("lag1(constant) = %v, want 0", got)
	}
}

// writePaired writes a paired.out of rounds rounds in dir: raw around 30 µs, and each chain of
// over at its ratio to raw times a per-round wobble of ±spread, the chains in rotated order.
// With procShift, the rounds are split evenly among len(procShift) processes ("# process N"
// markers), and process p adds procShift[p] to every chain's ratio.
func writePaired(t *testing.T, dir string, rounds int, over map[string]float64, spread float64, procShift ...float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	b.WriteString("goos: linux\ngoarch: amd64\npkg: github.com/bulwarkrpc/bulwark/benchmarks\n")
	names := []string{"raw"}
	for _, c := range []string{"suite", "failsafe", "raw2", "timeout", "spin1us", "offpath", "retry_5s", "suite_retry", "suite_nosink", "spin2us", "suite_ownctx", "grpc_timeout"} {
		if _, ok := over[c]; ok {
			names = append(names, c)
		}
	}
	allocs := map[string]float64{"raw": 157, "suite": 164, "failsafe": 200, "raw2": 157, "timeout": 162, "spin1us": 157, "offpath": 162,
		"retry_5s": 163, "suite_retry": 164, "suite_nosink": 164, "spin2us": 157, "suite_ownctx": 169, "grpc_timeout": 159}
	shift := 0.0
	for r := range rounds {
		if len(procShift) > 0 && r%(rounds/len(procShift)) == 0 {
			p := r / (rounds / len(procShift))
			fmt.Fprintf(&b, "# process %d\n", p)
			shift = procShift[p]
		}
		fmt.Fprintf(&b, "# round %d\n", r)
		base := 30000 * (1 + 0.3*rng.Float64()) // the machine's drift: shared by the round
		for i := range names {
			c := names[(i+r)%len(names)]
			ns := base
			if c != "raw" {
				ns *= (over[c] + shift) * (1 + spread*(2*rng.Float64()-1))
			}
			fmt.Fprintf(&b, "BenchmarkUnaryDLPaired/chain=%s-2\t2000\t%.0f ns/op\t%.0f cpu-ns/op\t%.0f B/op\t%.2f allocs/op\n",
				c, ns, ns*1.1, allocs[c]*60, allocs[c])
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "paired.out"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHeadlineVerdicts runs the headline over generated paired data and reads the verdicts.
func TestHeadlineVerdicts(t *testing.T) {
	tests := []struct {
		name         string
		rounds       int
		suite, fs    float64
		spread       float64
		wantTime     string
		wantFailsafe string
	}{
		{"clearly within", 200, 1.05, 1.14, 0.02, "| " + verdictMet + " |", "| " + verdictMet + " |"},
		{"clearly beyond", 200, 1.12, 1.14, 0.02, "| " + verdictMissed + " |", "| " + verdictMissed + " |"},
		{"too noisy to tell", 40, 1.07, 1.14, 0.3, "| " + verdictUnknown + " |", "| " + verdictUnknown + " |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writePaired(t, dir, tt.rounds, map[string]float64{"suite": tt.suite, "failsafe": tt.fs}, tt.spread)
			ss, err := parse(filepath.Join(dir, "paired.out"))
			if err != nil {
				t.Fatal(err)
			}
			if len(ss) != 3*tt.rounds || ss[0].iters != 2000 || ss[len(ss)-1].round != tt.rounds-1 {
				t.Fatalf("parsed %d samples (first %d calls, last round %d), want %d, 2000, %d",
					len(ss), ss[0].iters, ss[len(ss)-1].round, 3*tt.rounds, tt.rounds-1)
			}
			var out bytes.Buffer
			r := &report{w: &out, dir: dir}
			r.headline(ss, nil)
			var timeRow, fsRow string
			for _, line := range strings.Split(out.String(), "\n") {
				switch {
				case strings.HasPrefix(line, "| full suite + promobs: ≤ +8 % time"):
					timeRow = line
				case strings.HasPrefix(line, "| suite's overhead ≤ ½ failsafe-go's: time"):
					fsRow = line
				}
			}
			if !strings.HasSuffix(timeRow, tt.wantTime) {
				t.Errorf("time goal row %q, want it to end in %q", timeRow, tt.wantTime)
			}
			if !strings.HasSuffix(fsRow, tt.wantFailsafe) {
				t.Errorf("failsafe-go goal row %q, want it to end in %q", fsRow, tt.wantFailsafe)
			}
			if !strings.Contains(out.String(), "| suite's overhead ≤ ½ failsafe-go's: allocs | +7.00 against +43.00: 0.16× | met |") {
				t.Errorf("allocation share row missing or wrong:\n%s", out.String())
			}
		})
	}
}

// pairedHeadline returns the headline of 200 generated paired rounds of the chains in over
// (their ratios to raw, a ±1 % wobble per round; see writePaired).
func pairedHeadline(t *testing.T, over map[string]float64) string {
	t.Helper()
	out, _ := pairedReport(t, over)
	return out
}

// pairedReport is pairedHeadline that returns the report too, for what it kept for the summary.
func pairedReport(t *testing.T, over map[string]float64) (string, *report) {
	t.Helper()
	dir := t.TempDir()
	writePaired(t, dir, 200, over, 0.01)
	ss, err := parse(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &report{w: &out, dir: dir}
	r.headline(ss, nil)
	return out.String(), r
}

// numbersIn returns the numbers that the groups of pattern capture in out, failing the test
// with what the line is and the whole output when pattern does not match.
func numbersIn(t *testing.T, out, pattern, what string) []float64 {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in:\n%s", what, out)
	}
	v := make([]float64, len(m)-1)
	for i, g := range m[1:] {
		x, err := strconv.ParseFloat(g, 64)
		if err != nil {
			t.Fatalf("%s: %q is not a number", what, g)
		}
		v[i] = x
	}
	return v
}

// TestGRPCTimeoutFloor checks the line that reads the suite's overhead against the
// grpc_timeout chain's: the per-round difference of the two overheads, and the chain's own.
func TestGRPCTimeoutFloor(t *testing.T) {
	out := pairedHeadline(t, map[string]float64{"suite": 1.14, "failsafe": 1.22, "grpc_timeout": 1.04})
	v := numbersIn(t, out, "in raw's time: ([+-][0-9.]+) % \\[[^]]*\\]; the `grpc_timeout` chain itself ([+-][0-9.]+) %", "grpc_timeout floor line")
	floor, own := v[0], v[1]
	if math.Abs(floor-10) > 0.5 || math.Abs(own-4) > 0.3 {
		t.Errorf("floor %+.1f %%, grpc_timeout %+.1f %%; want about +10 %% and +4 %%", floor, own)
	}
	// Without the chain, no such line.
	if out := pairedHeadline(t, map[string]float64{"suite": 1.14, "failsafe": 1.22}); strings.Contains(out, "`grpc_timeout` chain itself") {
		t.Errorf("a floor line without a grpc_timeout chain:\n%s", out)
	}
}

// TestServiceConfigSaves checks the line on what the service config saves: the suite dialed
// without it, its allocations, the per-round difference from the suite, and the timeout chain
// as the floor without it.
func TestServiceConfigSaves(t *testing.T) {
	out := pairedHeadline(t, map[string]float64{"suite": 1.10, "failsafe": 1.22, "suite_ownctx": 1.14, "timeout": 1.05})
	v := numbersIn(t, out, "costs ([+-][0-9.]+) % \\[[^]]*\\] and ([+-][0-9.]+) allocations; per round, over the suite:\n([+-][0-9.]+) % \\[[^]]*\\]\\. Without it, the `timeout` chain \\(a bare 5 s `context.WithTimeout`\\) is the floor: ([+-][0-9.]+) %", "service config line")
	if math.Abs(v[0]-14) > 0.3 || v[1] != 12 || math.Abs(v[2]-4) > 0.4 || math.Abs(v[3]-5) > 0.3 {
		t.Errorf("suite_ownctx %+.1f %% and %+.0f allocs, %+.1f %% over the suite, timeout %+.1f %%; want about +14 %%, +12, +4 %%, +5 %%", v[0], v[1], v[2], v[3])
	}
	if out := pairedHeadline(t, map[string]float64{"suite": 1.14, "failsafe": 1.22}); strings.Contains(out, "What the service config saves") {
		t.Errorf("a service config line without a suite_ownctx chain:\n%s", out)
	}
}

// TestCalibration checks the spin1us line: the chain's overhead, and what it comes to in
// microseconds of raw's median call.
func TestCalibration(t *testing.T) {
	out := pairedHeadline(t, map[string]float64{"suite": 1.14, "failsafe": 1.22, "spin1us": 1.06})
	v := numbersIn(t, out, `costs ([+-][0-9.]+) % \[[^]]*\] of raw's\ntime here, about ([0-9.]+) µs of a ([0-9]+) µs call`, "calibration line")
	pct, us, call := v[0], v[1], v[2]
	if math.Abs(pct-6) > 0.3 || math.Abs(us-0.06*call) > 0.15 || call < 30 || call > 40 {
		t.Errorf("calibration %+.1f %%, %.1f µs of a %.0f µs call; want about +6 %%, 6 %% of a 30–39 µs call", pct, us, call)
	}
	if strings.Contains(out, "spin2us") {
		t.Errorf("a spin2us line without a spin2us chain:\n%s", out)
	}
	out = pairedHeadline(t, map[string]float64{"suite": 1.14, "failsafe": 1.22, "spin1us": 1.06, "spin2us": 1.15})
	v = numbersIn(t, out, "Spinning 2 µs \\(`spin2us`\\) costs ([+-][0-9.]+) % \\[[^]]*\\], about ([0-9.]+) µs; its second microsecond, per round,\n([+-][0-9.]+) %", "spin2us line")
	two, second := v[0], v[2]
	if math.Abs(two-15) > 0.4 || math.Abs(second-9) > 0.5 {
		t.Errorf("spin2us %+.1f %%, its second microsecond %+.1f %%; want about +15 %% and +9 %%", two, second)
	}
}

// TestLadder checks the ladder: each rung's cost is its difference from the rung above (the
// first one's from raw), the allocations added likewise, the room the goal leaves above the
// timeout rung, and the summary's one-line form; without every rung there is no ladder.
func TestLadder(t *testing.T) {
	over := map[string]float64{"suite": 1.12, "failsafe": 1.22, "grpc_timeout": 1.04, "suite_retry": 1.08, "suite_nosink": 1.10}
	out, r := pairedReport(t, over)
	want := map[string][2]float64{"grpc_timeout": {4, 2}, "suite_retry": {4, 5}, "suite_nosink": {2, 0}, "suite": {2, 0}}
	for chain, w := range want {
		v := numbersIn(t, out, "\\| "+chain+" \\| [^|]* \\| ([+-][0-9.]+) % \\[[^]]*\\] \\| [+-][0-9.]+ % \\| ([+-][0-9.]+) \\|", "ladder rung "+chain)
		add, allocs := v[0], v[1]
		if math.Abs(add-w[0]) > 0.4 || allocs != w[1] {
			t.Errorf("rung %s adds %+.1f %% and %+.2f allocs, want about %+.0f %% and %+.0f", chain, add, allocs, w[0], w[1])
		}
	}
	v := numbersIn(t, out, "Above the `grpc_timeout` rung, the ≤ \\+8 % goal leaves ([0-9.]+) points of raw's time; the 3 rungs\nabove it take ([+-][0-9.]+)", "room line")
	if room := v[0]; math.Abs(room-4) > 0.4 {
		t.Errorf("room above the grpc_timeout rung %.1f points, want about 4", room)
	}
	if took := v[1]; math.Abs(took-8) > 0.4 {
		t.Errorf("the rungs above grpc_timeout take %+.1f, want about +8", took)
	}
	var line string
	for _, n := range r.sum.notes {
		if strings.HasPrefix(n, "Where it goes") {
			line = n
		}
	}
	if !regexp.MustCompile("`grpc_timeout` \\+[34]\\.[0-9], `suite_retry` \\+[34]\\.[0-9], `suite_nosink` \\+[12]\\.[0-9], `suite` \\+[12]\\.[0-9] %\\.$").MatchString(line) {
		t.Errorf("summary line %q", line)
	}
	delete(over, "suite_retry")
	if out := pairedHeadline(t, over); strings.Contains(out, "Where the suite's overhead goes") {
		t.Errorf("a ladder without every rung:\n%s", out)
	}
}

// TestWorkOrWrapping checks the offpath line: the chain's overhead, its CPU in microseconds
// of raw's (writePaired's CPU is 1.1 × the time), and the per-round difference from the suite.
func TestWorkOrWrapping(t *testing.T) {
	out := pairedHeadline(t, map[string]float64{"suite": 1.14, "failsafe": 1.22, "offpath": 1.11})
	v := numbersIn(t, out, "costs\\n([+-][0-9.]+) % \\[[^]]*\\] \\(([+-][0-9.]+) µs of the process's CPU per call\\); the suite around the call \\(`suite`, which makes the same contexts\\) ([+-][0-9.]+) %.*\\n"+
		"what wrapping the call adds to the work \\(suite − offpath\\): ([+-][0-9.]+) %", "work-or-wrapping line")
	// raw's CPU is 1.1 × its 30–39 µs: 11 % of it is 3.6–4.3 µs.
	if math.Abs(v[0]-11) > 0.3 || v[1] < 3.5 || v[1] > 4.4 || math.Abs(v[2]-14) > 0.3 || math.Abs(v[3]-3) > 0.4 {
		t.Errorf("offpath %+.1f %%, %+.1f µs of CPU, suite %+.1f %%, wrapping %+.1f %%; want about +11 %%, 3.6–4.3 µs, +14 %%, +3 %%", v[0], v[1], v[2], v[3])
	}
	if out := pairedHeadline(t, map[string]float64{"suite": 1.14, "failsafe": 1.22}); strings.Contains(out, "Work or wrapping") {
		t.Errorf("a work-or-wrapping line without an offpath chain:\n%s", out)
	}
}

// TestPerProcess checks that processes whose medians differ by more than the pooled interval
// are marked, and that the time verdict says so.
func TestPerProcess(t *testing.T) {
	for _, tt := range []struct {
		name      string
		shift     []float64
		wantMarks bool
	}{
		{"processes agree", []float64{0, 0, 0}, false},
		{"one process apart", []float64{0, 0.06, 0}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writePaired(t, dir, 150, map[string]float64{"suite": 1.03, "failsafe": 1.14}, 0.02, tt.shift...)
			ss, err := parse(filepath.Join(dir, "paired.out"))
			if err != nil {
				t.Fatal(err)
			}
			if got := procsIn(ss); !slices.Equal(got, []int{0, 1, 2}) {
				t.Fatalf("processes %v, want [0 1 2]", got)
			}
			var out bytes.Buffer
			(&report{w: &out, dir: dir}).headline(ss, nil)
			text := out.String()
			if !strings.Contains(text, "| chain | process 0 | process 1 | process 2 | pooled |") {
				t.Fatalf("no per-process table:\n%s", text)
			}
			if marked := strings.Contains(text, " †"); marked != tt.wantMarks {
				t.Errorf("† marks: %v, want %v:\n%s", marked, tt.wantMarks, text)
			}
			if warned := strings.Contains(text, "processes disagree"); warned != tt.wantMarks {
				t.Errorf("verdict warns of disagreeing processes: %v, want %v", warned, tt.wantMarks)
			}
		})
	}
}

func TestVerdictAcross(t *testing.T) {
	in := func(lo, hi float64) estimate { return estimate{med: (lo + hi) / 2, lo: lo, hi: hi, n: 50, ok: true} }
	pooled := in(1.05, 1.07)
	tests := []struct {
		name  string
		procs []estimate
		want  string
	}{
		{"one process", nil, verdictMet},
		{"processes overlap: the pooled interval decides", []estimate{in(1.03, 1.075), in(1.06, 1.09), in(1.04, 1.07)}, verdictMet},
		{"processes apart, each met", []estimate{in(1.00, 1.03), in(1.05, 1.07), in(1.04, 1.06)}, verdictMet + ", in every process (they disagree, †)"},
		{"processes apart, one straddles", []estimate{in(1.00, 1.03), in(1.06, 1.09)}, verdictUnknown + ": the processes disagree (†)"},
		{"processes apart, met and missed", []estimate{in(1.00, 1.03), in(1.09, 1.12)}, verdictUnknown + ": the processes disagree (†)"},
	}
	for _, tt := range tests {
		if got := verdictAcross(pooled, &processes{est: tt.procs}, 1.08); got != tt.want {
			t.Errorf("%s: verdictAcross = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := verdictAcross(in(1.09, 1.10), &processes{est: []estimate{in(1.085, 1.088), in(1.095, 1.11)}}, 1.08); got != verdictMissed+", in every process (they disagree, †)" {
		t.Errorf("processes apart, each missed: %q", got)
	}
}

// randomEffects returns k processes of n rounds each around med: each process shifted by a
// normal draw of sd between, each round by one of sd within.
func randomEffects(rng *rand.Rand, k, n int, med, between, within float64) processes {
	var p processes
	for range k {
		shift := rng.NormFloat64() * between
		vs := make([]float64, n)
		for j := range vs {
			vs[j] = med + shift + rng.NormFloat64()*within
		}
		p.vals = append(p.vals, vs)
		p.est = append(p.est, medianCI(vs))
	}
	return p
}

// pooledOf is the sign-test estimate of every value of p.
func pooledOf(p processes) estimate { return medianCI(slices.Concat(p.vals...)) }

// TestClusterCI checks the cluster bootstrap's coverage where it matters: when processes sit
// apart (a random shift per process), the pooled sign-test interval misses the true median
// far more often than 5 % of the time, and the bootstrap's does not; when they do not, the two
// intervals are about as wide. It also checks that the same data give the same interval.
func TestClusterCI(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const datasets, truth = 200, 1.06
	covered := func(e estimate) bool { return e.ok && e.lo <= truth && truth <= e.hi }
	var pooledIn, clusterIn int
	for range datasets {
		p := randomEffects(rng, 16, 10, truth, 0.03, 0.03)
		if covered(pooledOf(p)) {
			pooledIn++
		}
		if covered(clusterCI(p.vals, 500)) {
			clusterIn++
		}
	}
	t.Logf("coverage: pooled %d, cluster %d of %d", pooledIn, clusterIn, datasets)
	if got := float64(clusterIn) / datasets; got < 0.88 {
		t.Errorf("processes apart: the cluster bootstrap covers the median in %.0f %% of %d datasets, want about 95 %%", got*100, datasets)
	}
	if got := float64(pooledIn) / datasets; got > 0.85 {
		t.Errorf("processes apart: the pooled sign-test interval covers it in %.0f %%, want it too narrow (the case for the bootstrap)", got*100)
	}

	p := randomEffects(rng, 32, 10, truth, 0, 0.03)
	pooled, cl := pooledOf(p), clusterCI(p.vals, bootstrapResamples)
	if w, pw := cl.hi-cl.lo, pooled.hi-pooled.lo; w > 1.5*pw || w < pw/1.5 {
		t.Errorf("processes alike: bootstrap interval %v against pooled %v, want about as wide", cl, pooled)
	}
	if again := clusterCI(p.vals, bootstrapResamples); again != cl {
		t.Errorf("the same data gave %v, then %v", cl, again)
	}
	if cl.med != pooled.med || cl.n != pooled.n {
		t.Errorf("bootstrap median %v (n %d), want the pooled one %v (n %d)", cl.med, cl.n, pooled.med, pooled.n)
	}
	if e := clusterCI(p.vals[:minClusters-1], bootstrapResamples); e.ok {
		t.Errorf("%d processes: an interval %v, want none", minClusters-1, e)
	}
}

// TestAcrossProcesses checks the process-level rule: with minClusters processes or more the
// verdict judges the union of the pooled interval and the cluster bootstrap's, so processes
// that sit apart widen it past the goal where rounds alike keep the pooled verdict; with fewer
// processes the pooled interval is judged, or each process's when they disagree.
func TestAcrossProcesses(t *testing.T) {
	tests := []struct {
		name           string
		k              int
		between        float64
		wantOK         bool
		want           string
		wantWiderThan2 bool
	}{
		{"processes alike", 32, 0, true, verdictMet, false},
		{"processes apart", 32, 0.03, true, verdictUnknown, true},
		{"too few processes, alike: the pooled interval", minClusters - 1, 0, false, verdictMet, false},
		{"too few processes, apart: each process's own", minClusters - 1, 0.03, false, verdictUnknown + ": the processes disagree (†)", false},
	}
	for _, tt := range tests {
		p := randomEffects(rand.New(rand.NewPCG(5, 6)), tt.k, 10, 1.06, tt.between, 0.005)
		pooled := pooledOf(p)
		u, ok := acrossProcesses(pooled, &p)
		if ok != tt.wantOK || u.med != pooled.med || u.lo > pooled.lo || u.hi < pooled.hi {
			t.Errorf("%s: acrossProcesses = %v, %v; want %v and an interval holding the pooled %v", tt.name, u, ok, tt.wantOK, pooled)
		}
		if wider := u.hi-u.lo > 2*(pooled.hi-pooled.lo); wider != tt.wantWiderThan2 {
			t.Errorf("%s: interval %v against pooled %v: more than twice as wide %v, want %v", tt.name, u, pooled, wider, tt.wantWiderThan2)
		}
		if got := verdictAcross(pooled, &p, 1.08); got != tt.want {
			t.Errorf("%s: verdictAcross = %q (interval %v), want %q", tt.name, got, u, tt.want)
		}
	}
}

// TestControlBaseline checks the A/A control: the baseline is the geometric mean of raw and
// raw2 in each round, raw2's own row is over raw alone, and a control whose interval misses
// 1.000 is called out.
func TestControlBaseline(t *testing.T) {
	for _, tt := range []struct {
		raw2     float64
		wantNote bool
	}{{0.97, true}, {1, false}} {
		dir := t.TempDir()
		writePaired(t, dir, 60, map[string]float64{"suite": 1.05, "failsafe": 1.14, "raw2": tt.raw2}, 0)
		ss, err := parse(filepath.Join(dir, "paired.out"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := pairedRatio(ss, "suite", "ns/op").ci().med, 1.05/math.Sqrt(tt.raw2); math.Abs(got-want) > 1e-3 {
			t.Errorf("raw2 at %.2f: suite over the baseline %.4f, want %.4f (over √(raw·raw2))", tt.raw2, got, want)
		}
		if got := pairedRatio(ss, "raw2", "ns/op").ci().med; math.Abs(got-tt.raw2) > 1e-3 {
			t.Errorf("raw2 at %.2f: its row %.4f, want it over raw alone", tt.raw2, got)
		}
		var out bytes.Buffer
		(&report{w: &out, dir: dir}).headline(ss, nil)
		if noted := strings.Contains(out.String(), "does not hold 1.000"); noted != tt.wantNote {
			t.Errorf("raw2 at %.2f: A/A note %v, want %v", tt.raw2, noted, tt.wantNote)
		}
	}
}

// TestOwnLadder checks the own-work table under the ladder: each rung's hot and cold
// nanoseconds over the rung below (over raw for the first), cold ÷ hot, the cold figure priced
// by the calibration (spin1us at +6 %: 0.006 % of raw's time per nanosecond), and no table when
// the own-work runs lack a rung.
func TestOwnLadder(t *testing.T) {
	over := map[string]float64{"suite": 1.12, "failsafe": 1.22, "grpc_timeout": 1.04, "suite_retry": 1.08, "suite_nosink": 1.10, "spin1us": 1.06}
	dir := t.TempDir()
	writePaired(t, dir, 200, over, 0.01)
	ss, err := parse(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	// Own work over raw (10 ns hot, 50 cold): suite_retry 250 / 750, suite_nosink 400 / 1200,
	// suite 600 / 1500, the policies called directly 300 / 900; two runs each.
	// policies_direct without each policy: 800 cold without the deadline (its share 150), 850
	// without the limiter (100), 880 without the breaker (70), 900 without the bulkhead (50), 700
	// without the events (250); 250 without any.
	own := map[string][2]float64{"raw": {10, 50}, "suite_retry": {260, 800}, "suite_nosink": {410, 1250}, "suite": {610, 1550}, "policies_direct": {310, 950},
		"policies_no_deadline": {250, 800}, "policies_no_limiter": {260, 850}, "policies_no_breaker": {270, 880},
		"policies_no_bulkhead": {280, 900}, "policies_no_events": {200, 700}, "policies_none": {60, 300}}
	var b strings.Builder
	for range 2 {
		for c, v := range own {
			fmt.Fprintf(&b, "BenchmarkSuiteOwn/chain=%s-2\t200000\t%.1f ns/op\t0 B/op\t0 allocs/op\n", c, v[0])
			fmt.Fprintf(&b, "BenchmarkSuiteOwnCold/chain=%s-2\t20000\t26000 ns/op\t%.1f cold-ns/op\t0 B/op\t0 allocs/op\n", c, v[1])
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "own.out"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ownSS, err := parse(filepath.Join(dir, "own.out"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &report{w: &out, dir: dir, own: ownSS}
	r.headline(ss, nil)
	want := map[string][4]float64{"suite_retry": {250, 750, 3.0, 4.5}, "suite_nosink": {150, 450, 3.0, 2.7}, "suite": {200, 300, 1.5, 1.8}}
	for chain, w := range want {
		v := numbersIn(t, out.String(), "\\| "+chain+" \\| ([+-][0-9]+) \\| ([+-][0-9]+) \\| ([0-9.]+)× \\| ([+-][0-9.]+) % \\|", "own-work row "+chain)
		for i := range w {
			if math.Abs(v[i]-w[i]) > 0.15 {
				t.Errorf("own-work row %s: %v, want %v", chain, v, w)
				break
			}
		}
	}
	v := numbersIn(t, out.String(), "The full suite's own work: ([0-9]+) ns hot, ([0-9]+) ns cold; priced in place, ([+-][0-9.]+) %", "own-work total")
	if v[0] != 600 || v[1] != 1500 || math.Abs(v[2]-9) > 0.15 {
		t.Errorf("own-work total %v, want 600, 1500, +9.0 %%", v)
	}
	v = numbersIn(t, out.String(), "\\): ([0-9]+) ns hot, ([0-9]+) ns cold\\. The suite's own machinery[^:]*: ([0-9]+) ns cold, ([+-][0-9.]+) %", "policies_direct line")
	if v[0] != 300 || v[1] != 900 || v[2] != 600 || math.Abs(v[3]-3.6) > 0.15 {
		t.Errorf("policies_direct line %v, want 300, 900, 600, +3.6 %%", v)
	}
	shares := map[string][2]float64{"deadline": {150, 0.9}, "limiter": {100, 0.6}, "breaker": {70, 0.42}, "bulkhead": {50, 0.3}, "events": {250, 1.5}, "none": {250, 1.5}}
	for p, w := range shares {
		v := numbersIn(t, out.String(), "\\| "+p+" \\| [^|]* \\| ([+-]?[0-9]+) \\| ([+-][0-9.]+) % \\|", "policy share "+p)
		if v[0] != w[0] || math.Abs(v[1]-w[1]) > 0.051 {
			t.Errorf("policy share %s: %v, want %v", p, v, w)
		}
	}
	noted := false
	for _, n := range r.sum.notes {
		noted = noted || strings.HasPrefix(n, "Own work per rung without gRPC, hot → cold") &&
			strings.Contains(n, "Each policy's share of it, cold: deadline 150, limiter 100, breaker 70, bulkhead 50, events 250 ns; without any, 250 ns.")
	}
	if !noted {
		t.Errorf("no own-work line in the summary's notes: %q", r.sum.notes)
	}
	r = &report{w: new(bytes.Buffer), dir: dir, own: filter(ownSS, "BenchmarkSuiteOwn", 0, nil)}
	r.headline(ss, nil)
	if s := r.w.(*bytes.Buffer).String(); strings.Contains(s, "own work, cold") {
		t.Errorf("an own-work table without the cold runs:\n%s", s)
	}
}

// TestAcrossRuns checks the verdict across runs: never on one run; with fewer than minRuns, met
// or missed only when every run's own verdict is; from minRuns on, on the sign-test interval of the runs'
// medians, so that one run straddling the goal among many within it does not decide.
func TestAcrossRuns(t *testing.T) {
	r := func(med, lo, hi float64) run {
		e := estimate{med: med, lo: lo, hi: hi, n: 1, ok: true}
		return run{commit: "abc1234", e: e, verdict: goalVerdict(e, 1.08)}
	}
	met, straddles, missed := r(1.05, 1.04, 1.07), r(1.075, 1.065, 1.09), r(1.10, 1.09, 1.11)
	tests := []struct {
		name string
		runs []run
		want string
	}{
		{"none", nil, verdictNoMeasure},
		{"one run met", []run{met}, verdictUnknown + ": one run"},
		{"two runs met", []run{met, met}, verdictMet + " in each of the 2 runs (fewer than 6: no interval across runs)"},
		{"two runs, met and straddling", []run{met, straddles}, verdictUnknown + ": the runs disagree"},
		{"three runs missed", []run{missed, missed, missed}, verdictMissed + " in each of the 3 runs (fewer than 6: no interval across runs)"},
		{"three runs straddling", []run{straddles, straddles, straddles}, verdictUnknown},
		{"six runs, one straddling", []run{met, met, straddles, met, met, met}, verdictMet},
		{"six runs across the goal", []run{met, missed, met, missed, straddles, missed}, verdictUnknown},
	}
	for _, tt := range tests {
		if _, got := acrossRuns(tt.runs, 1.08); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestParseRun reads a run's commit and its time figures (the suite's, the half gap to
// failsafe-go's) from a report, and refuses a report run on uncommitted changes or without the
// figure.
func TestParseRun(t *testing.T) {
	row := "| full suite + promobs: ≤ +8 % time over raw | +8.5 % [+6.8 – +9.9 %] (paired, 320 rounds); with the 32 processes resampled whole [+6.7 – +10.2 %] | not established |\n"
	got, ok := parseRun("| commit | d486950 |\n"+row, suiteTime)
	if !ok || got.commit != "d486950" || math.Abs(got.e.med-1.085) > 1e-9 || math.Abs(got.e.lo-1.068) > 1e-9 || math.Abs(got.e.hi-1.099) > 1e-9 {
		t.Errorf("parseRun = %+v, %v; want d486950 at 1.085 [1.068–1.099]", got, ok)
	}
	if _, ok := parseRun("| commit | d486950 (with uncommitted changes) |\n"+row, suiteTime); ok {
		t.Error("a run on uncommitted changes was read")
	}
	if _, ok := parseRun("| commit | d486950 |\n", suiteTime); ok {
		t.Error("a report without the suite's figure was read")
	}
	gap := "| suite's overhead ≤ ½ failsafe-go's: time | suite +8.5 %, failsafe-go +28.1 % (medians; overheads 0.30×); per round, suite's overhead − ½ failsafe-go's, in raw's time: -6.3 % [-7.4 – -4.6 %]; with the 32 processes resampled whole [-7.4 – -4.4 %] | met |\n"
	got, ok = parseRun("| commit | 290e515 |\n"+row+gap, halfGapTime)
	if !ok || got.commit != "290e515" || math.Abs(got.e.med-0.937) > 1e-9 || math.Abs(got.e.lo-0.926) > 1e-9 || math.Abs(got.e.hi-0.954) > 1e-9 {
		t.Errorf("parseRun of the half-gap row = %+v, %v; want 290e515 at 0.937 [0.926–0.954]", got, ok)
	}
}

// pastRunsOf is the suite's time figure of pastReports.
func pastRunsOf(top, path, code, skip string) ([]run, error) {
	return pastRunsIn(top, path, measuredCode, code, skip)
}

// pastRunsIn is pastRunsOf with the measured code's pathspec spec.
func pastRunsIn(top, path string, spec []string, code, skip string) ([]run, error) {
	reports, err := pastReports(top, path, spec, code, skip, nil)
	return runsOf(reports, suiteTime), err
}

// TestPastRuns builds a repository whose report is committed for three runs, two of one version
// of the code (one of them re-rendered and committed again) and one after a change to it, and
// checks that the runs of each code are found, each once, without the run given as this one's.
func TestPastRuns(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	top := t.TempDir()
	run, write, commit := gitRepo(t, top)
	report := func(commit string, pct float64) string {
		return fmt.Sprintf("| commit | %s |\n| full suite + promobs: ≤ +8 %% time over raw | %+.1f %% [%+.1f – %+.1f %%] (paired, 320 rounds) | met |\n", commit, pct, pct-1, pct+1)
	}
	const path = "benchmarks/results/report.md"
	run("init", "-q")
	write("lib.go", "package lib\n")
	c1 := commit("code 1")
	write(path, report(c1, 5))
	r1 := commit("report at c1")
	write("docs/notes.md", "notes\n") // not measured code
	d1 := commit("docs")
	write(path, report(d1, 6.5))
	commit("report at d1")
	write(path, report(d1, 7)) // the same run re-rendered: counted once, as last read
	commit("report at d1, re-rendered")
	write("lib.go", "package lib\n\nconst X = 1\n")
	c2 := commit("code 2")
	write(path, report(c2, 9))
	commit("report at c2")

	code1, err := codeOf(top, r1, measuredCode)
	if err != nil {
		t.Fatal(err)
	}
	if full, _ := codeOf(top, c1, measuredCode); code1 != full || !strings.HasPrefix(code1, c1) {
		t.Fatalf("code of %s is %s, want %s's", r1, code1, c1)
	}
	got, err := pastRunsOf(top, path, code1, "")
	if err != nil {
		t.Fatal(err)
	}
	var meds []string
	for _, r := range got {
		meds = append(meds, fmt.Sprintf("%s %.2f", r.commit, r.e.med))
	}
	if want := []string{c1 + " 1.05", d1 + " 1.07"}; !slices.Equal(meds, want) {
		t.Errorf("runs of code 1: %v, want %v", meds, want)
	}
	if got, _ := pastRunsOf(top, path, code1, d1); len(got) != 1 || got[0].commit != c1 {
		t.Errorf("runs of code 1 but d1's own: %+v, want c1's alone", got)
	}
	code2, _ := codeOf(top, c2, measuredCode)
	if got, _ := pastRunsOf(top, path, code2, ""); len(got) != 1 || got[0].commit != c2 {
		t.Errorf("runs of code 2: %+v, want c2's alone", got)
	}

	// Go code the run does not link (an example) changes the code by measuredCode, not by the
	// pathspec linkedCode gives for a run that links the top directory's package alone.
	write("examples/app/app.go", "package app\n")
	e1 := commit("an example")
	write(path, report(e1, 8))
	commit("report at e1")
	linked := append(slices.Clone(buildFiles), ":(glob)*.go")
	if code, _ := codeOf(top, e1, linked); code != code2 {
		t.Errorf("code of %s by the linked pathspec is %s, want code 2's %s", e1, code, code2)
	}
	if code, _ := codeOf(top, e1, measuredCode); code == code2 {
		t.Errorf("code of %s by measuredCode is code 2's, want its own", e1)
	}
	got, _ = pastRunsIn(top, path, linked, code2, "")
	meds = nil
	for _, r := range got {
		meds = append(meds, r.commit)
	}
	if want := []string{c2, e1}; !slices.Equal(meds, want) {
		t.Errorf("runs of code 2 by the linked pathspec: %v, want %v", meds, want)
	}
}

// TestLinkedCode: the pathspec of the benchmarks' own run names the directories of the library
// packages it links, and neither the examples nor the report's code.
func TestLinkedCode(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skip("not in a git checkout")
	}
	top := strings.TrimSpace(string(out))
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := linkedCode(top, moduleDir(here))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{":(glob)interceptors/retry/*.go", ":(glob)observe/promobs/*.go", ":(glob)benchmarks/*.go",
		":(glob)benchmarks/cmd/paired/*.go", ":(glob)**/go.sum", "benchmarks/scripts", ":(exclude,glob)**/*_test.go"} {
		if !slices.Contains(spec, want) {
			t.Errorf("linked pathspec lacks %s: %v", want, spec)
		}
	}
	for _, p := range spec {
		if strings.Contains(p, "examples/") || strings.Contains(p, "cmd/report") {
			t.Errorf("linked pathspec holds %s", p)
		}
	}
	if _, err := codeOf(top, "HEAD", spec); err != nil {
		t.Errorf("git log with the linked pathspec: %v", err)
	}
}

// TestAcrossRunsOwnVerdict: with fewer than minRuns runs a goal is met across runs only when
// every run's own verdict is met. A run's own verdict judges the union of its pooled interval
// and the cluster bootstrap's (or each process's interval): a run whose pooled interval is
// within the goal but whose verdict is "not established" is not a met run (the row of the run
// at 55b19fb).
func TestAcrossRunsOwnVerdict(t *testing.T) {
	wide := "| commit | %s |\n| full suite + promobs: ≤ +8 % time over raw | +6.3 % [+5.0 – +7.5 %] (paired, 320 rounds); with the 32 processes resampled whole [+5.0 – +8.9 %] | not established |\n"
	var runs []run
	for _, c := range []string{"55b19fb", "4ff7f21"} {
		r, ok := parseRun(strings.Replace(wide, "%s", c, 1), suiteTime)
		if !ok {
			t.Fatalf("run %s not read", c)
		}
		runs = append(runs, r)
	}
	if _, got := acrossRuns(runs, goalSuiteTime); strings.HasPrefix(got, verdictMet) {
		t.Errorf("two runs whose own verdict is %q: across runs %q, want no met", verdictUnknown, got)
	}
}

// TestAcrossRunsRounding: a report prints its figures to 0.1 point, so a run read back as
// +8.0 % may have measured up to +8.05 %; six runs whose highest median reads +8.0 % do not
// show that the median across runs is within +8 %.
func TestAcrossRunsRounding(t *testing.T) {
	var runs []run
	for i, pct := range []string{"+7.0", "+7.5", "+7.8", "+8.0", "+7.9", "+7.6"} {
		text := fmt.Sprintf("| commit | %07x |\n| full suite + promobs: ≤ +8 %% time over raw | %s %% [+6.0 – +9.0 %%] (paired, 320 rounds) | not established |\n", 0xabc0000+i, pct)
		r, ok := parseRun(text, suiteTime)
		if !ok {
			t.Fatalf("run %d not read", i)
		}
		runs = append(runs, r)
	}
	if _, got := acrossRuns(runs, goalSuiteTime); got != verdictUnknown {
		t.Errorf("six runs up to a printed +8.0 %%: across runs %q, want %q", got, verdictUnknown)
	}
}

// TestSameCodeSettings: runs of the same commits are of the same measured code only when they
// were built by the same Go toolchain, on the same machine, in the same headline layout (the
// report's env rows); and go.work, which picks the workspace's modules and their versions in
// the benchmarks' build, is measured code like a go.mod.
func TestSameCodeSettings(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	top := t.TempDir()
	git, write, commit := gitRepo(t, top)
	env := map[string]string{"go": "go1.26.8 linux/amd64", "cpu": "AMD EPYC", "nproc": "2",
		"headline layout (verdicts)": "paired, every chain in one process, 320 rounds in all (32 such processes one after another, their rounds pooled)"}
	reportOf := func(commit string, pct float64, change map[string]string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "| | |\n| --- | --- |\n| commit | %s |\n", commit)
		for _, k := range []string{"go", "cpu", "nproc", "headline layout (verdicts)"} {
			v := env[k]
			if c, ok := change[k]; ok {
				v = c
			}
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
		fmt.Fprintf(&b, "\n| full suite + promobs: ≤ +8 %% time over raw | %+.1f %% [%+.1f – %+.1f %%] (paired, 320 rounds) | met |\n", pct, pct-1, pct+1)
		return b.String()
	}
	const path = "benchmarks/results/report.md"
	git("init", "-q")
	write("lib.go", "package lib\n")
	write("go.work", "go 1.26.0\n\nuse .\n")
	c1 := commit("code")
	write(path, reportOf(c1, 5, nil))
	d1 := commit("report at c1")
	write(path, reportOf(d1, 6, map[string]string{"go": "go1.27.0 linux/amd64"}))
	d2 := commit("report at d1, another toolchain")
	write(path, reportOf(d2, 6.5, map[string]string{"headline layout (verdicts)": "paired, every chain in one process, 60 rounds in all (6 such processes one after another, their rounds pooled)"}))
	d3 := commit("report at d2, another layout")

	sameOf := func(at string) *sameCode {
		e := maps.Clone(env)
		e["commit"] = at
		r := &report{dir: filepath.Join(top, "benchmarks", "results"), envs: e}
		return r.readSameCode()
	}
	s := sameOf(d3)
	if !s.ok {
		t.Fatal("the code of this run not told")
	}
	var got []string
	for _, p := range s.reports {
		got = append(got, p.commit)
	}
	if want := []string{c1}; !slices.Equal(got, want) {
		t.Errorf("runs of the same code and settings: %v, want %v (not the other toolchain's %s, nor the other layout's %s)", got, want, d1, d2)
	}

	write("go.work", "go 1.26.0\n\nuse (\n\t.\n\t./other\n)\n")
	w := commit("go.work: another module in the workspace")
	if s := sameOf(w); !s.ok || strings.HasPrefix(s.code, c1) || len(s.reports) != 0 {
		t.Errorf("after a go.work change: code %s with %d past runs, want a new series", s.code, len(s.reports))
	}
}

// gitRepo returns helpers on a git repository at top (to be made with git("init")): git runs a
// git command in it and returns its output, write writes a file of it, commit commits every
// change and returns the short commit.
func gitRepo(t *testing.T, top string) (git func(args ...string) string, write func(path, text string), commit func(msg string) string) {
	git = func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", top}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write = func(path, text string) {
		t.Helper()
		p := filepath.Join(top, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit = func(msg string) string {
		git("add", "-A")
		git("commit", "-q", "-m", msg)
		return git("rev-parse", "--short", "HEAD")
	}
	return git, write, commit
}

// TestRunsLine: the runs named across runs, in the singular for one.
func TestRunsLine(t *testing.T) {
	code := "b287c2f0123456789"
	one := []run{{commit: "737a351aaaa", e: estimate{med: 1.077}}}
	if got, want := runsLine(one, code), "1 run of the code of b287c2f: 737a351 +7.7 %"; got != want {
		t.Errorf("runsLine = %q, want %q", got, want)
	}
	two := append(one, run{commit: "0123456bbbb", e: estimate{med: 0.95}})
	if got, want := runsLine(two, code), "2 runs of the code of b287c2f: 737a351 +7.7 %, 0123456 -5.0 %"; got != want {
		t.Errorf("runsLine = %q, want %q", got, want)
	}
}

// TestLinkedCodeEmbeds: a file a linked package embeds (//go:embed, as config embeds
// builtin.yaml, the suite_builtin chain's profile) is compiled into the run's programs, so a
// commit that changes it alone changes the measured code and starts a new series.
func TestLinkedCodeEmbeds(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	top := t.TempDir()
	git, write, commit := gitRepo(t, top)
	git("init", "-q")
	write("go.mod", "module example.com/m\n\ngo 1.21\n")
	write("lib/lib.go", "package lib\n\nimport _ \"embed\"\n\n//go:embed profile.yaml\nvar Profile string\n")
	write("lib/profile.yaml", "timeout: 5s\n")
	write("bench/bench.go", "package bench\n\nimport \"example.com/m/lib\"\n\nvar P = lib.Profile\n")
	write("bench/cmd/paired/main.go", "package main\n\nimport _ \"example.com/m/bench\"\n\nfunc main() {}\n")
	commit("code")
	write("lib/profile.yaml", "timeout: 3s\n")
	c2 := commit("the embedded profile alone")
	spec, err := linkedCode(top, filepath.Join(top, "bench"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := codeOf(top, "HEAD", spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(code, c2) {
		t.Errorf("code after a change to an embedded file alone is %s, want %s (pathspec %v)", short(code), c2, spec)
	}
}

// TestAcrossRunsUnmeasured: a run that did not measure the goal (no round holds both the chain
// and raw) is no run of it across runs: five committed runs within the goal whose own verdicts
// are not established stay not established, instead of a sixth, empty run (read as a median
// of −100 %) opening the interval across runs and making them met.
func TestAcrossRunsUnmeasured(t *testing.T) {
	var reports []pastReport
	for i, pct := range []string{"+7.0", "+7.5", "+7.8", "+7.9", "+7.6"} {
		text := fmt.Sprintf("| commit | %07x |\n| full suite + promobs: ≤ +8 %% time over raw | %s %% [+6.0 – +9.0 %%] (paired, 320 rounds) | not established |\n", 0xabc0000+i, pct)
		reports = append(reports, pastReport{commit: fmt.Sprintf("%07x", 0xabc0000+i), text: text})
	}
	var out bytes.Buffer
	r := &report{w: &out, envs: map[string]string{"commit": "def0000"},
		same: sameCode{read: true, ok: true, code: "abc0000", reports: reports}}
	var got []string
	row := func(goal, measured, short, verdict string) { got = append(got, measured+" | "+verdict) }
	r.acrossRunsRow("full suite + promobs: ≤ +8 % time over raw", medianCI(nil), verdictNoMeasure, suiteTime, goalSuiteTime, row)
	if len(got) != 1 || !strings.HasPrefix(got[0], "5 runs ") || !strings.HasSuffix(got[0], "| "+verdictUnknown) {
		t.Errorf("five runs not established and one that measured nothing: across runs %q, want the five alone, %q", got, verdictUnknown)
	}
}

// TestAcrossRunsLayout: without the paired layout the goals fall back to the per-process one,
// whose figure the committed runs (all paired: the across-run series reads the paired figure
// alone) are not of; the fallback run is no run of that series.
func TestAcrossRunsLayout(t *testing.T) {
	var head bytes.Buffer
	for r := range 8 {
		fmt.Fprintf(&head, "# round %d\n", r)
		for c, x := range map[string]float64{"raw": 1, "suite": 1.20, "failsafe": 1.30} {
			fmt.Fprintf(&head, "BenchmarkUnaryDL/chain=%s/mode=serial-2\t15000\t%.0f ns/op\t160 allocs/op\n", c, 30000*x*(1+0.001*float64(r)))
		}
	}
	dir := t.TempDir()
	ss := writeParse(t, dir, "headline.out", head.Bytes())
	var reports []pastReport
	for i, pct := range []string{"+7.0", "+7.5", "+7.8", "+7.9", "+7.6"} {
		text := fmt.Sprintf("| commit | %07x |\n| full suite + promobs: ≤ +8 %% time over raw | %s %% [+6.0 – +7.9 %%] (paired, 320 rounds) | met |\n", 0xabc0000+i, pct)
		reports = append(reports, pastReport{commit: fmt.Sprintf("%07x", 0xabc0000+i), text: text})
	}
	var out bytes.Buffer
	r := &report{w: &out, dir: dir, envs: map[string]string{"commit": "def0000"},
		same: sameCode{read: true, ok: true, code: "abc0000", reports: reports}}
	r.headline(nil, ss)
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| full suite + promobs: ≤ +8 % time over raw, across runs") && !strings.Contains(line, "5 runs of the code") {
			t.Errorf("the per-process run joined the paired runs across runs: %s", line)
		}
	}
}

// TestFailsafeAllocsGoal: the suite's allocations over raw are judged against half of
// failsafe-go's even when failsafe-go's are none over raw: a suite that allocates more than
// failsafe-go then misses the goal, rather than the goal going unjudged.
func TestFailsafeAllocsGoal(t *testing.T) {
	for _, tt := range []struct {
		suite, failsafe float64
		want            string
	}{
		{3, 0, "| suite's overhead ≤ ½ failsafe-go's: allocs | +3.00 against +0.00 | " + verdictMissed + " |"},
		{0, 0, "| suite's overhead ≤ ½ failsafe-go's: allocs | +0.00 against +0.00 | " + verdictMet + " |"},
		{3, 40, "| suite's overhead ≤ ½ failsafe-go's: allocs | +3.00 against +40.00: 0.07× | " + verdictMet + " |"},
	} {
		var out bytes.Buffer
		r := &report{w: &out}
		r.goals(map[string]ratioAllocs{"suite": {flatRatio(1.05), tt.suite}, "failsafe": {flatRatio(1.3), tt.failsafe}}, "paired", nil)
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("suite %+.0f, failsafe-go %+.0f allocs: no row %q in\n%s", tt.suite, tt.failsafe, tt.want, out.String())
		}
	}
}

// TestNoDeadlineGOMAXPROCS: the no-deadline layout runs at the machine's GOMAXPROCS (no -cpu
// flag in scripts/report.sh), so its table is there on a machine of any core count, not only
// on one of 2.
func TestNoDeadlineGOMAXPROCS(t *testing.T) {
	for _, suffix := range []string{"", "-4"} {
		dir := t.TempDir()
		for _, f := range []string{"paired.out", "headline.out", "inflight.out", "stack.out", "hotpath.out", "paired_shared.out", "paired_1ms.out", "ownconfigured.out", "own.out"} {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var nodl bytes.Buffer
		for r := range 3 {
			fmt.Fprintf(&nodl, "# round %d\n", r)
			for c, x := range map[string]float64{"raw": 1, "suite": 1.10} {
				fmt.Fprintf(&nodl, "BenchmarkUnary/chain=%s/mode=serial%s\t10000\t%.0f ns/op\t160 allocs/op\n", c, suffix, 30000*x)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "nodeadline.out"), nodl.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte("nproc: 4\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-dir", dir)
		cmd.Env = append(os.Environ(), asCommand+"=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cmd/report: %v", err)
		}
		_, section, _ := strings.Cut(string(out), "## Without a caller deadline")
		section, _, _ = strings.Cut(section, "\n## ")
		if !strings.Contains(section, "| suite | ") || !strings.Contains(section, "+10.0 %") {
			t.Errorf("GOMAXPROCS suffix %q: no suite row at +10 %% in the no-deadline section:\n%s", suffix, section)
		}
	}
}

// TestFailsafeGoalUnmeasured: a chain without a round in common with raw has no median; the
// failsafe-go goal's row says so, rather than printing it as −100 %.
func TestFailsafeGoalUnmeasured(t *testing.T) {
	by := map[int]float64{}
	for i := range 10 {
		by[i] = 1.05
	}
	var out bytes.Buffer
	r := &report{w: &out}
	r.goals(map[string]ratioAllocs{"suite": {ratio{med: 1.05, rounds: 10, byRound: by}, 3}, "failsafe": {ratio{}, 40}}, "paired", nil)
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| suite's overhead ≤ ½ failsafe-go's: time |") &&
			(strings.Contains(line, "-100.0 %") || !strings.Contains(line, "failsafe-go — (medians") || !strings.HasSuffix(line, "| "+verdictNoMeasure+" |")) {
			t.Errorf("failsafe-go not measured: %s", line)
		}
	}
	out.Reset()
	r.goals(map[string]ratioAllocs{"suite": {ratio{}, 3}, "failsafe": {ratio{med: 1.05, rounds: 10, byRound: by}, 40}}, "paired", nil)
	if want := "suite —, failsafe-go +5.0 % (medians; overheads —)"; !strings.Contains(out.String(), want) {
		t.Errorf("suite not measured: no %q in\n%s", want, out.String())
	}
}

// TestHeadlineGOMAXPROCS: the headline names the GOMAXPROCS the paired layout ran at, the
// machine's, not 2 whatever it was.
func TestHeadlineGOMAXPROCS(t *testing.T) {
	dir := t.TempDir()
	writePaired(t, dir, 20, map[string]float64{"suite": 1.05, "failsafe": 1.2}, 0.01)
	path := filepath.Join(dir, "paired.out")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte("-2\t"), []byte("-4\t")), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := parse(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &report{w: &out, dir: dir}
	r.headline(ss, nil)
	if !strings.Contains(out.String(), "one caller, GOMAXPROCS 4, every call") {
		t.Fatalf("headline:\n%s\nwant GOMAXPROCS 4", strings.SplitN(out.String(), "\n", 2)[0])
	}
}

// TestAcrossRunsFewRounds: a run of too few rounds for an interval (one to five) gives its own
// goal no verdict, and read back from its report (whose figure then has no interval) it is no
// run of the series; so it is none as this run either: five committed runs within the goal and
// a sixth of three rounds give no interval across runs, where its bare median made a sixth run
// and an across-run verdict as if the run had an interval.
func TestAcrossRunsFewRounds(t *testing.T) {
	var reports []pastReport
	for i, pct := range []string{"+5.0", "+5.5", "+5.8", "+5.9", "+5.6"} {
		text := fmt.Sprintf("| commit | %07x |\n| full suite + promobs: ≤ +8 %% time over raw | %s %% [+4.0 – +6.9 %%] (paired, 320 rounds) | met |\n", 0xabc0000+i, pct)
		reports = append(reports, pastReport{commit: fmt.Sprintf("%07x", 0xabc0000+i), text: text})
	}
	for rounds := 1; rounds < 6; rounds++ {
		now := medianCI(slices.Repeat([]float64{1.052}, rounds))
		var out bytes.Buffer
		r := &report{w: &out, envs: map[string]string{"commit": "def0000"},
			same: sameCode{read: true, ok: true, code: "abc0000", reports: reports}}
		var got []string
		row := func(goal, measured, short, verdict string) { got = append(got, measured+" | "+verdict) }
		r.acrossRunsRow("full suite + promobs: ≤ +8 % time over raw", now, goalVerdict(now, goalSuiteTime), suiteTime, goalSuiteTime, row)
		if len(got) != 1 || !strings.HasPrefix(got[0], "5 runs ") || strings.HasSuffix(got[0], "| "+verdictMet) {
			t.Errorf("five runs met and one of %d rounds: across runs %q, want the five alone and no interval across runs", rounds, got)
		}
	}
}

// TestCalibrationUnmeasured: a spin1us chain with no round shared with raw (its blocks in a
// round raw has none of) measured no calibration: the report gives no calibration line, note
// or pricing, rather than "costs —, about −33 µs of a 33 µs call" and the own-work table
// priced at −0.1 % of raw's time per nanosecond. Likewise a spin2us of no round.
func TestCalibrationUnmeasured(t *testing.T) {
	dir := t.TempDir()
	over := map[string]float64{"suite": 1.12, "failsafe": 1.22, "grpc_timeout": 1.04, "suite_retry": 1.08, "suite_nosink": 1.10}
	writePaired(t, dir, 40, over, 0.01)
	f, err := os.OpenFile(filepath.Join(dir, "paired.out"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("# round 999\nBenchmarkUnaryDLPaired/chain=spin1us-2\t2000\t31000 ns/op\t34100 cpu-ns/op\t9420 B/op\t157.00 allocs/op\n" +
		"BenchmarkUnaryDLPaired/chain=spin2us-2\t2000\t32000 ns/op\t35200 cpu-ns/op\t9420 B/op\t157.00 allocs/op\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	ss, err := parse(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	var own strings.Builder
	for c, v := range map[string][2]float64{"raw": {10, 50}, "suite_retry": {260, 800}, "suite_nosink": {410, 1250}, "suite": {610, 1550}} {
		fmt.Fprintf(&own, "BenchmarkSuiteOwn/chain=%s-2\t200000\t%.1f ns/op\n", c, v[0])
		fmt.Fprintf(&own, "BenchmarkSuiteOwnCold/chain=%s-2\t20000\t26000 ns/op\t%.1f cold-ns/op\n", c, v[1])
	}
	if err := os.WriteFile(filepath.Join(dir, "own.out"), []byte(own.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ownSS, err := parse(filepath.Join(dir, "own.out"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &report{w: &out, dir: dir, own: ownSS}
	r.headline(ss, nil)
	for _, bad := range []string{"Calibration:", "Spinning 2 µs", "priced by the calibration", "priced in place"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("no spin1us round, yet the report has %q:\n%s", bad, out.String())
		}
	}
	for _, n := range r.sum.notes {
		if strings.HasPrefix(n, "Calibration:") || strings.Contains(n, "calibration prices") {
			t.Errorf("no spin1us round, yet the summary notes %q", n)
		}
	}
}

// TestProcessCount: the processes the text says were resampled whole, or whose own medians
// were taken, are those that measured the figure: 12 processes of which 2 have no suite
// block (cut short, say) give the suite's figures from 10, and the text says 10, not 12.
func TestProcessCount(t *testing.T) {
	dir := t.TempDir()
	writePaired(t, dir, 120, map[string]float64{"suite": 1.05, "failsafe": 1.14}, 0.02, make([]float64, 12)...)
	data, err := os.ReadFile(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	proc := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "# process") {
			proc = l
		}
		if (proc == "# process 10" || proc == "# process 11") && strings.Contains(l, "chain=suite-") {
			continue
		}
		keep = append(keep, l)
	}
	if err := os.WriteFile(filepath.Join(dir, "paired.out"), []byte(strings.Join(keep, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := parse(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	(&report{w: &out, dir: dir}).headline(ss, nil)
	text := out.String()
	if n := strings.Count(text, "with the 10 processes resampled whole"); n != 2 {
		t.Errorf("%d goal rows say the 10 processes that measured the suite were resampled, want 2:\n%s", n, text)
	}
	for _, want := range []string{"bootstrap's: the 10 processes resampled whole", "the sign-test interval of the\n10 processes' own medians"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "12 processes resampled") || strings.Contains(text, "12 processes' own") {
		t.Errorf("the text counts the 2 processes without a suite block among those resampled:\n%s", text)
	}
}

// TestLadderUnmeasuredRung: a rung's chain in the run but in no round with raw has no median;
// the ladder is then not given (as without the chain), rather than a rung at −100 % over raw
// and the goal leaving 108 points above it.
func TestLadderUnmeasuredRung(t *testing.T) {
	by := func(x float64) ratio {
		m := map[int]float64{}
		for i := range 20 {
			m[i] = x * (1 + 0.001*float64(i%3))
		}
		return ratio{med: x, lo: x, hi: x * 1.002, rounds: 20, byRound: m}
	}
	for _, empty := range []string{"grpc_timeout", "suite_retry", "suite"} {
		got := map[string]ratioAllocs{"grpc_timeout": {by(1.04), 2}, "suite_retry": {by(1.08), 7}, "suite_nosink": {by(1.10), 7}, "suite": {by(1.12), 7}}
		got[empty] = ratioAllocs{ratio{}, got[empty].allocs}
		var out bytes.Buffer
		r := &report{w: &out}
		r.ladder(got, goalSuiteTime)
		if s := out.String(); strings.Contains(s, "Where the suite's overhead goes") || strings.Contains(s, "-100.0 %") {
			t.Errorf("a ladder with %s unmeasured:\n%s", empty, s)
		}
		if len(r.sum.notes) != 0 {
			t.Errorf("%s unmeasured: summary notes %q", empty, r.sum.notes)
		}
	}
}

// TestSlowTextFigures: the 1 ms section's opening gives the headline's call time and the
// suite's share of it from the run, not a fixed "30 µs" and "a tenth" whatever was measured.
func TestSlowTextFigures(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"headline.out", "nodeadline.out", "inflight.out", "stack.out", "hotpath.out", "paired_shared.out", "ownconfigured.out", "own.out"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePaired(t, dir, 40, map[string]float64{"suite": 1.25, "failsafe": 1.4}, 0.01)
	data, err := os.ReadFile(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	// raw at 60–78 µs: twice writePaired's.
	data = regexp.MustCompile(`\t([0-9]+) ns/op`).ReplaceAllFunc(data, func(m []byte) []byte {
		v, _ := strconv.Atoi(strings.Fields(string(m))[0])
		return []byte(fmt.Sprintf("\t%d ns/op", 2*v))
	})
	for _, f := range []string{"paired.out", "paired_1ms.out"} {
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte("nproc: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := parse(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	raw := median(values(filter(ss, pairedBench, 0, map[string]string{"chain": "raw"}), "ns/op"))
	cmd := exec.Command(os.Args[0], "-dir", dir)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cmd/report: %v", err)
	}
	_, section, _ := strings.Cut(string(out), "## A 1 ms call: the services' regime")
	section, _, _ = strings.Cut(section, "\n|")
	if want := fmt.Sprintf("The headline's %.0f µs bufconn call", raw/1000); !strings.Contains(section, want) {
		t.Errorf("1 ms section's opening does not say %q:\n%s", want, section)
	}
	if want := "its own\nwork adds 25 % to the call"; !strings.Contains(section, want) {
		t.Errorf("1 ms section's opening does not say %q:\n%s", want, section)
	}
}

// TestNotesWithoutFailsafe: a run without the failsafe chain has no failsafe-go goal, but the
// lines that do not read failsafe-go (the grpc_timeout floor, what the service config saves,
// the calibration, work or wrapping) are still given, not dropped with the goal.
func TestNotesWithoutFailsafe(t *testing.T) {
	out := pairedHeadline(t, map[string]float64{"suite": 1.10, "grpc_timeout": 1.04, "suite_ownctx": 1.14, "timeout": 1.05, "spin1us": 1.06, "offpath": 1.08})
	for _, want := range []string{"`grpc_timeout` chain itself", "What the service config saves", "Calibration: 1 µs", "Work or wrapping"} {
		if !strings.Contains(out, want) {
			t.Errorf("no failsafe chain: no %q line in\n%s", want, out)
		}
	}
	if strings.Contains(out, "½ failsafe-go's") {
		t.Errorf("a failsafe-go goal without the failsafe chain:\n%s", out)
	}
}

// TestGOMAXPROCSTableUnmeasured: a chain measured at one GOMAXPROCS only has no time at the
// other; its cells read "—" (unmeasured), as its ratio's does, not 0 ns/op and a 0.00× speed-up.
func TestGOMAXPROCSTableUnmeasured(t *testing.T) {
	var b bytes.Buffer
	for r := range 3 {
		fmt.Fprintf(&b, "# round %d\n", r)
		for _, p := range []string{"1", "2"} {
			fmt.Fprintf(&b, "BenchmarkUnaryDL/chain=raw/mode=serial-%s\t10000\t30000 ns/op\t160 allocs/op\n", p)
		}
		fmt.Fprintf(&b, "BenchmarkUnaryDL/chain=suite/mode=serial-2\t10000\t33000 ns/op\t166 allocs/op\n")
		fmt.Fprintf(&b, "BenchmarkUnaryDL/chain=failsafe/mode=serial-1\t10000\t36000 ns/op\t200 allocs/op\n")
	}
	dir := t.TempDir()
	ss := writeParse(t, dir, "headline.out", b.Bytes())
	var out bytes.Buffer
	r := &report{w: &out}
	r.gomaxprocsTable(ss)
	for _, want := range []string{
		"| raw | serial | 30000 | 1.000 [1.000–1.000] | 30000 | 1.000 [1.000–1.000] | 1.00× |",
		"| suite | serial | — | — | 33000 | 1.100 [1.100–1.100] | — |",
		"| failsafe | serial | 36000 | 1.200 [1.200–1.200] | — | — | — |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no row %q in:\n%s", want, out.String())
		}
	}
}

// TestLadderGoal: the ladder's room above its first rung is read against the time goal it is
// given (goalSuiteTime in the report), not a figure of its own: with a +10 % goal, 6 points
// are left above a +4 % grpc_timeout rung, and the text names +10 %.
func TestLadderGoal(t *testing.T) {
	over := map[string]float64{"suite": 1.12, "failsafe": 1.22, "grpc_timeout": 1.04, "suite_retry": 1.08, "suite_nosink": 1.10}
	_, r := pairedReport(t, over)
	var out bytes.Buffer
	r.w = &out
	r.ladder(r.sum.paired, 1.10)
	v := numbersIn(t, out.String(), "Above the `grpc_timeout` rung, the ≤ \\+10 % goal leaves ([0-9.]+) points", "room line")
	if math.Abs(v[0]-6) > 0.4 {
		t.Errorf("room above the grpc_timeout rung under a +10 %% goal %.1f points, want about 6", v[0])
	}
}

// headlineOfRatios returns the headline of a paired.out whose chains have the per-round time
// ratios to raw given (raw at 30 µs every round).
func headlineOfRatios(t *testing.T, ratios map[string][]float64) string {
	t.Helper()
	var b bytes.Buffer
	for r := range len(ratios["suite"]) {
		fmt.Fprintf(&b, "# round %d\nBenchmarkUnaryDLPaired/chain=raw-2\t2000\t30000 ns/op\t9420 B/op\t157.00 allocs/op\n", r)
		for _, c := range []string{"suite", "failsafe", "raw2"} {
			if xs, ok := ratios[c]; ok {
				fmt.Fprintf(&b, "BenchmarkUnaryDLPaired/chain=%s-2\t2000\t%.4f ns/op\t9840 B/op\t164.00 allocs/op\n", c, 30000*xs[r])
			}
		}
	}
	dir := t.TempDir()
	ss := writeParse(t, dir, "paired.out", b.Bytes())
	var out bytes.Buffer
	r := &report{w: &out, dir: dir}
	r.headline(ss, nil)
	return out.String()
}

// TestGoalFiguresAgreeWithVerdict: a bound just beyond the goal is printed with the digits
// that show it beyond, so the row's figures never contradict its verdict: an upper bound of
// 1.0804 (not established against ≤ +8 %) read "+8.0 %", a lower bound of 1.08004 (missed)
// read "+8.0 %" too, and a median of 1.0804 read "+8.0 %"; the failsafe-go row likewise at 0.
func TestGoalFiguresAgreeWithVerdict(t *testing.T) {
	// 20 rounds: the sign-test interval is the 6th to the 15th of the sorted ratios.
	with := func(lo, mid, hi float64) []float64 {
		xs := slices.Repeat([]float64{lo - 0.01}, 5)
		xs = append(xs, slices.Repeat([]float64{lo}, 5)...)
		xs = append(xs, slices.Repeat([]float64{mid}, 4)...)
		xs = append(xs, hi)
		return append(xs, slices.Repeat([]float64{hi + 0.01}, 5)...)
	}
	tests := []struct {
		name    string
		suite   []float64
		want    string
		verdict string
	}{
		{"upper bound just beyond", with(1.07, 1.075, 1.0804), "+7.3 % [+7.0 – +8.04 %]", verdictUnknown},
		{"lower bound just beyond", with(1.08004, 1.085, 1.09), "+8.3 % [+8.004 – +9.0 %]", verdictMissed},
		{"median just beyond", append(slices.Repeat([]float64{1.0804}, 10), slices.Repeat([]float64{1.0804}, 10)...), "+8.04 % [+8.04 – +8.04 %]", verdictMissed},
		{"upper bound at the goal", with(1.07, 1.075, 1.08), "+7.3 % [+7.0 – +8.0 %]", verdictMet},
		{"upper bound just within", with(1.07, 1.075, 1.07996), "+7.3 % [+7.0 – +8.0 %]", verdictMet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := headlineOfRatios(t, map[string][]float64{"suite": tt.suite})
			want := "| full suite + promobs: ≤ +8 % time over raw | " + tt.want + " (paired, 20 rounds) | " + tt.verdict + " |"
			if !strings.Contains(out, want) {
				row := regexp.MustCompile(`(?m)^\| full suite \+ promobs: ≤ \+8 % time over raw \|.*$`).FindString(out)
				t.Errorf("time goal row\n%s\nwant\n%s", row, want)
			}
		})
	}
	// The failsafe-go row: suite's overhead − ½ failsafe-go's, goal 0; an upper bound of
	// +0.04 % is not within it.
	suite := with(1.07, 1.075, 1.0804)
	fs := make([]float64, len(suite))
	for i := range fs {
		fs[i] = 1.16 // ½ of its overhead: 8 %
	}
	out := headlineOfRatios(t, map[string][]float64{"suite": suite, "failsafe": fs})
	row := regexp.MustCompile(`(?m)^\| suite's overhead ≤ ½ failsafe-go's: time \|.*$`).FindString(out)
	if !strings.Contains(row, "in raw's time: -0.7 % [-1.0 – +0.04 %] | "+verdictUnknown+" |") {
		t.Errorf("failsafe-go time row\n%s\nwant its interval's upper bound +0.04 %%, not established", row)
	}
}

// goalsText returns the goals' explanation of what the across-run series holds: the text from
// "judged *across runs*" to the goals table.
func goalsText(out string) string {
	_, s, _ := strings.Cut(out, "judged *across runs*")
	s, _, _ = strings.Cut(s, "| goal | measured | verdict |")
	return strings.ReplaceAll(s, "\n", " ")
}

// TestAcrossRunsText: the goals' text says whether this run is in the series of runs the time
// goals are judged across, as the across-run rows count it: "this one included" only when it
// is, and why it is not otherwise (too few rounds for an interval, the per-process layout, or
// a run whose code cannot be told, which has no across-run rows at all).
func TestAcrossRunsText(t *testing.T) {
	past := func() sameCode {
		var reports []pastReport
		for i, pct := range []string{"+5.0", "+5.5", "+5.8", "+5.9", "+5.6"} {
			text := fmt.Sprintf("| commit | %07x |\n| full suite + promobs: ≤ +8 %% time over raw | %s %% [+4.0 – +6.9 %%] (paired, 320 rounds) | met |\n", 0xabc0000+i, pct)
			reports = append(reports, pastReport{commit: fmt.Sprintf("%07x", 0xabc0000+i), text: text})
		}
		return sameCode{read: true, ok: true, code: "abc0000", reports: reports}
	}
	run := func(rounds int, same sameCode) string {
		dir := t.TempDir()
		writePaired(t, dir, rounds, map[string]float64{"suite": 1.05, "failsafe": 1.14}, 0.01)
		ss, err := parse(filepath.Join(dir, "paired.out"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		r := &report{w: &out, dir: dir, envs: map[string]string{"commit": "def0000"}, same: same}
		r.headline(ss, nil)
		return out.String()
	}
	if s := goalsText(run(40, past())); !strings.Contains(s, "this one included") {
		t.Errorf("a run of 40 rounds, in the series: text %q does not say it is included", s)
	}
	out := run(3, past())
	if s := goalsText(out); strings.Contains(s, "this one included") || !strings.Contains(s, "this one left out") {
		t.Errorf("a run of 3 rounds, left out of the series (%q): text %q", regexp.MustCompile(`(?m)^\| .*, across runs .*$`).FindString(out), s)
	}
	if s := goalsText(run(40, sameCode{read: true})); strings.Contains(s, "this one included") || !strings.Contains(s, "no across-run") {
		t.Errorf("a run whose code cannot be told (no across-run rows): text %q", s)
	}
}

// TestControlNoteDigits: the A/A control's interval is printed with the digits that show it
// missing 1: a lower bound of 1.0004 read "1.000" beside "does not hold 1.000".
func TestControlNoteDigits(t *testing.T) {
	suite := slices.Repeat([]float64{1.05}, 20)
	for _, tt := range []struct {
		name string
		aa   []float64
		want string
	}{
		{"above", append(slices.Repeat([]float64{1.0002}, 5), slices.Repeat([]float64{1.0004}, 15)...), "1.0004 [1.0004–1.0004]"},
		{"below", append(slices.Repeat([]float64{0.9996}, 15), slices.Repeat([]float64{0.9998}, 5)...), "0.9996 [0.9996–0.9996]"},
	} {
		out := headlineOfRatios(t, map[string][]float64{"suite": suite, "raw2": tt.aa})
		_, note, ok := strings.Cut(out, "**The A/A control's interval, ")
		if !ok {
			t.Errorf("%s: no note that the A/A control's interval misses 1", tt.name)
			continue
		}
		if note, _, _ = strings.Cut(note, ", does not hold"); note != tt.want {
			t.Errorf("%s: the A/A control's interval printed %q beside \"does not hold 1.000\", want %q", tt.name, note, tt.want)
		}
	}
}

// TestAcrossRunsGoalFigure: the suite's time figure is read from a past report whatever goal
// figure its row names (a report rendered when the goal was another is still a run of the same
// code, its median the same measurement), and a run's own verdict, given against its goal,
// counts against this one only where it still holds: met within a goal at most this one's,
// missed beyond a goal at least this one's.
func TestAcrossRunsGoalFigure(t *testing.T) {
	rowAt := func(commit, goal, verdict string) string {
		return fmt.Sprintf("| commit | %s |\n| full suite + promobs: ≤ %s %% time over raw | +6.5 %% [+6.0 – +6.9 %%] (paired, 320 rounds) | %s |\n", commit, goal, verdict)
	}
	read := func(goal, verdict string) []run {
		var runs []run
		for _, c := range []string{"abc1234", "abc5678"} {
			r, ok := parseRun(rowAt(c, goal, verdict), suiteTime)
			if !ok {
				t.Fatalf("a report whose goal row reads ≤ %s %% was not read", goal)
			}
			runs = append(runs, r)
		}
		return runs
	}
	tests := []struct {
		goal, verdict, want string
	}{
		{"+8", verdictMet, verdictMet + " in each of the 2 runs (fewer than 6: no interval across runs)"},
		{"+7", verdictMet, verdictMet + " in each of the 2 runs (fewer than 6: no interval across runs)"},
		{"+6.5", verdictUnknown, verdictUnknown},
		// Met within +10 % says nothing of +8 %.
		{"+10", verdictMet, verdictUnknown},
		// Missed beyond +7 % says nothing of +8 %; missed beyond +9 % is missed beyond +8 %.
		{"+7", verdictMissed, verdictUnknown},
		{"+9", verdictMissed, verdictMissed + " in each of the 2 runs (fewer than 6: no interval across runs)"},
	}
	for _, tt := range tests {
		if _, got := acrossRuns(read(tt.goal, tt.verdict), goalSuiteTime); got != tt.want {
			t.Errorf("two runs %s against ≤ %s %%: across runs against ≤ +8 %% %q, want %q", tt.verdict, tt.goal, got, tt.want)
		}
	}
	// From minRuns on the medians decide, whatever goal each run was judged against.
	var runs []run
	for i, goal := range []string{"+8", "+10", "+7", "+8", "+12", "+8"} {
		r, ok := parseRun(rowAt(fmt.Sprintf("%07x", 0xabc0000+i), goal, verdictMet), suiteTime)
		if !ok {
			t.Fatalf("run %d (≤ %s %%) not read", i, goal)
		}
		runs = append(runs, r)
	}
	if _, got := acrossRuns(runs, goalSuiteTime); got != verdictMet {
		t.Errorf("six runs at +6.5 %% read from rows of several goals: %q, want %q", got, verdictMet)
	}
}

// TestControlNoteDifference: the A/A control's note says by how much the two identical chains
// differ with the digits that show it, not "+0.0 %" beside an interval that misses 1.
func TestControlNoteDifference(t *testing.T) {
	suite := slices.Repeat([]float64{1.05}, 20)
	aa := append(slices.Repeat([]float64{1.0002}, 5), slices.Repeat([]float64{1.0004}, 15)...)
	out := headlineOfRatios(t, map[string][]float64{"suite": suite, "raw2": aa})
	if !strings.Contains(out, "two identical chains differ by\n+0.04 % in this layout") {
		t.Errorf("the A/A control's note, want it to say they differ by +0.04 %%:\n%s", out)
	}
}

// TestAllocGoalFiguresAgreeWithVerdict: allocations per call are medians of MemStats deltas,
// fractional, and the goal rows judge them as measured: +12.004 allocs against ≤ +12 is missed,
// and must not read "+12.00 allocs" beside its verdict; nor a suite at 10.005 allocs against
// failsafe-go's 20 read a share of "0.50×" beside a missed ½.
func TestAllocGoalFiguresAgreeWithVerdict(t *testing.T) {
	var out bytes.Buffer
	r := &report{w: &out}
	r.goals(map[string]ratioAllocs{"suite": {flatRatio(1.05), 12.004}, "failsafe": {flatRatio(1.3), 24}, "suite_builtin": {flatRatio(1.1), 14.003}}, "paired", nil)
	for _, want := range []string{
		"| full suite + promobs: ≤ +12 allocs over raw | +12.004 allocs | " + verdictMissed + " |",
		"| built-in ml profile + promobs: ≤ +14 allocs over raw | +14.003 allocs | " + verdictMissed + " |",
		"| suite's overhead ≤ ½ failsafe-go's: allocs | +12.004 against +24.00: 0.5002× | " + verdictMissed + " |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no row %q in\n%s", want, out.String())
		}
	}
}

// TestParseRunLayout: a past report whose goals were judged on the per-process layout (its
// paired run empty) holds the failsafe-go time row too, with no layout in its figures; its
// figure is no run of the paired series the across-run rows judge (inSeries), for either goal.
func TestParseRunLayout(t *testing.T) {
	var head bytes.Buffer
	for r := range 8 {
		fmt.Fprintf(&head, "# round %d\n", r)
		for _, c := range []string{"raw", "suite", "failsafe"} {
			x := map[string]float64{"raw": 1, "suite": 1.20, "failsafe": 1.30}[c]
			fmt.Fprintf(&head, "BenchmarkUnaryDL/chain=%s/mode=serial-2\t15000\t%.0f ns/op\t160 allocs/op\n", c, 30000*x*(1+0.001*float64(r)))
		}
	}
	dir := t.TempDir()
	ss := writeParse(t, dir, "headline.out", head.Bytes())
	var out bytes.Buffer
	r := &report{w: &out, dir: dir}
	r.headline(nil, ss)
	text := "| commit | abc1234 |\n" + out.String()
	if !strings.Contains(text, "| suite's overhead ≤ ½ failsafe-go's: time |") {
		t.Fatalf("no failsafe-go time row in the per-process report:\n%s", text)
	}
	for name, fig := range map[string]*regexp.Regexp{"suite": suiteTime, "half gap": halfGapTime} {
		if got, ok := parseRun(text, fig); ok {
			t.Errorf("%s: a per-process report read as a paired run: %+v", name, got)
		}
	}
}

// TestGoalFigure: a goal is printed as the figure it is judged against, not rounded to a whole
// number: a bound of 1.075 is "≤ +7.5 %", which the across-run series reads back as the bound
// its runs' verdicts were given against (parseRun), and 12.5 allocations "≤ +12.5".
func TestGoalFigure(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want string
	}{{(1.08 - 1) * 100, "+8"}, {(1.075 - 1) * 100, "+7.5"}, {12, "+12"}, {12.5, "+12.5"}, {-2, "-2"}} {
		if got := goalFigure(tt.x); got != tt.want {
			t.Errorf("goalFigure(%v) = %q, want %q", tt.x, got, tt.want)
		}
	}
	over := map[string]float64{"suite": 1.07, "failsafe": 1.22, "grpc_timeout": 1.02, "suite_retry": 1.04, "suite_nosink": 1.06}
	_, rep := pairedReport(t, over)
	var out bytes.Buffer
	rep.w = &out
	rep.ladder(rep.sum.paired, 1.075)
	if !strings.Contains(out.String(), "the ≤ +7.5 % goal leaves") {
		t.Errorf("the ladder under a goal of 1.075 does not name it ≤ +7.5 %%:\n%s", out.String())
	}
	r, ok := parseRun("| commit | abc1234 |\n| "+suiteTimeGoal(1.075)+" | +7.0 % [+6.0 – +8.0 %] (paired, 320 rounds) | not established |\n", suiteTime)
	if !ok || math.Abs(r.goal-1.075) > 1e-9 {
		t.Errorf("the row of a goal of 1.075 read back as %+v, %v; want its goal 1.075", r, ok)
	}
}

// flatRatio is a ratio of x in each of 10 rounds, its interval x too.
func flatRatio(x float64) ratio {
	by := map[int]float64{}
	for i := range 10 {
		by[i] = x
	}
	return ratio{med: x, lo: x, hi: x, rounds: 10, byRound: by}
}

// writeParse writes data as the benchmark output name in dir and returns its samples.
func writeParse(t *testing.T, dir, name string, data []byte) []sample {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := parse(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return ss
}
