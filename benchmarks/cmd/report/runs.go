package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A report's interval covers the rounds of one run; whole runs of the same code, minutes apart,
// differ by more than that on a shared VM. So the time goals are also judged across the runs
// of the measured code: every committed version of report.md whose run measured it.

// measuredCode is the pathspec of what the headline's time figure measures, when the packages
// the run links cannot be listed (linkedCode): the Go code that is not a test (the library, its
// dependencies' versions, and the paired layout's harness) and the script and Makefile that lay
// the run out; not the report's own code.
var measuredCode = append([]string{":(glob)**/*.go", ":(exclude)benchmarks/cmd/report"}, buildFiles...)

// buildFiles is the pathspec of what, besides the Go code, decides the binaries a run measures:
// the modules' requirements, the workspace (the benchmarks build in workspace mode: go.work
// picks the modules and, by their requirements, the versions), the script and the Makefile.
var buildFiles = []string{":(glob)**/go.mod", ":(glob)**/go.sum", ":(glob)**/go.work", ":(glob)**/go.work.sum",
	"benchmarks/scripts", "benchmarks/Makefile", ":(exclude,glob)**/*_test.go"}

// settingKeys are the rows of a report's machine table that must match for two runs of the same
// code to measure the same thing: the toolchain that compiled it, the machine, the headline's
// layout (its rounds, processes and calls per block).
var settingKeys = []string{"go", "cpu", "nproc", "headline layout (verdicts)"}

// settingsOf returns the rows settingKeys of env, as a report's table prints them.
func settingsOf(env map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range settingKeys {
		out[k] = strings.ReplaceAll(env[k], "|", "\\|")
	}
	return out
}

// sameSettings says whether the report text's rows of want's keys hold want's values.
func sameSettings(text string, want map[string]string) bool {
	for k, v := range want {
		row := "\n| " + k + " | " + v + " |\n"
		if !strings.Contains("\n"+text, row) {
			return false
		}
	}
	return true
}

// measuredPackages are the run's programs (scripts/report.sh): the benchmarks' test binary and
// cmd/paired, relative to the benchmarks module.
var measuredPackages = []string{".", "./cmd/paired"}

// linkedCode is measuredCode narrowed to the packages the run's programs link (go list, in the
// benchmarks module at dir): the non-test Go files of their directories in the repository at
// top, the files they embed (//go:embed: config's builtin.yaml, the suite_builtin chain's
// profile, is compiled into the programs as much as its Go code is), every go.mod and go.sum
// (the dependencies' versions), and the script and Makefile. A
// change elsewhere, to the examples or the documents, leaves the measured code as it was. The
// set is today's; a package that joined or left it did so through an import in a file of the
// set, so a commit that changed the set changed the measured code too.
func linkedCode(top, dir string) ([]string, error) {
	// One line per package: its directory, then its embed patterns, tab-separated.
	format := `{{if not .Standard}}{{.Dir}}{{range .EmbedPatterns}}{{"\t"}}{{.}}{{end}}{{end}}`
	cmd := exec.Command("go", append([]string{"list", "-deps", "-test", "-f", format}, measuredPackages...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("go list in %s: %w: %s", dir, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("go list in %s: %w", dir, err)
	}
	spec := slices.Clone(buildFiles)
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Split(line, "\t")
		d := fields[0]
		if d == "" {
			continue
		}
		rel, err := filepath.Rel(top, d)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || seen[rel] {
			continue // a dependency's module, outside the repository, or a package seen
		}
		seen[rel] = true
		spec = append(spec, ":(glob)"+filepath.ToSlash(filepath.Join(rel, "*.go")))
		// An embed pattern names files or directories (embedded whole) relative to the
		// package's directory, in path.Match's syntax, which git's glob magic reads alike;
		// "all:" only says that hidden files count.
		for _, p := range fields[1:] {
			spec = append(spec, ":(glob)"+filepath.ToSlash(filepath.Join(rel, strings.TrimPrefix(p, "all:"))))
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("go list in %s: no package of the repository at %s", dir, top)
	}
	return spec, nil
}

// minRuns is the fewest runs the across-run interval is read from: the sign-test interval of the
// runs' medians needs 6 at 95 %.
const minRuns = 6

// run is one report run's figure for a time goal, as a ratio (1 + x/100), and the verdict
// the run gave the goal itself.
type run struct {
	commit string
	e      estimate
	// verdict is the run's own verdict of the goal, as its goals table gives it: judged on
	// the interval the run's rule uses (with the processes resampled whole, or each process's
	// own), which may be wider than e's pooled one.
	verdict string
	// goal is the bound verdict was given against, as a ratio, when the run's row names one
	// (0: the goal the runs are judged against now).
	goal float64
	// slack is how far e's figures may be from what the run measured: half the last digit
	// printed, for a run read back from its report (0 for this run's own, exact figures).
	slack float64
}

// git runs git in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// codeOf returns the last commit at or before commit that changed the measured code, the
// paths of spec (measuredCode, linkedCode).
func codeOf(top, commit string, spec []string) (string, error) {
	return git(top, append([]string{"log", "-1", "--format=%H", commit, "--"}, spec...)...)
}

var commitRow = regexp.MustCompile(`(?m)^\| commit \| ([0-9a-f]{7,40})( \(with uncommitted changes\))? \|`)

// A time goal's figure in a report's goals table: the percentage (med) and its interval (lo,
// hi), read as 1 + x/100, and the bound the row names (goal), when it names one.
var (
	// suiteTime is the suite's time over raw. The goal's figure is read, not written into the
	// pattern: the suite's time is the same measurement whatever bound it was judged against,
	// so a report rendered before the goal changed is still a run of its code.
	suiteTime = regexp.MustCompile(`(?m)^\| full suite \+ promobs: ≤ (?P<goal>[+-]?[0-9.]+) % time over raw \| (?P<med>[+-]?[0-9.]+) % \[(?P<lo>[+-]?[0-9.]+) – (?P<hi>[+-]?[0-9.]+) %\] \(paired`)
	// halfGapTime is the suite's overhead less half of failsafe-go's, per round; its bound is 0.
	halfGapTime = regexp.MustCompile(`(?m)^\| suite's overhead ≤ ½ failsafe-go's: time \| [^|]*in raw's time: (?P<med>[+-]?[0-9.]+) % \[(?P<lo>[+-]?[0-9.]+) – (?P<hi>[+-]?[0-9.]+) %\]`)
)

// verdictLayout is the line of a report's goals that names the layout its time verdicts use.
var verdictLayout = regexp.MustCompile(`(?m)^Time verdicts use the (\S+) layout's`)

// parseRun reads a report's commit, the time figure fig matches and the verdict of its row;
// ok is false when the report has no such figure, was run on uncommitted changes, or judged
// its goals on a layout other than the paired one, the series' (inSeries): the failsafe-go
// row's figures do not name their layout.
func parseRun(text string, fig *regexp.Regexp) (run, bool) {
	c := commitRow.FindStringSubmatch(text)
	m := fig.FindStringSubmatchIndex(text)
	if c == nil || c[2] != "" || m == nil {
		return run{}, false
	}
	if l := verdictLayout.FindStringSubmatch(text); l != nil && l[1] != "paired" {
		return run{}, false
	}
	// sub returns the text of fig's group name, "" when fig has none or it matched nothing.
	sub := func(name string) string {
		if i := fig.SubexpIndex(name); i > 0 && m[2*i] >= 0 {
			return text[m[2*i]:m[2*i+1]]
		}
		return ""
	}
	goal := 0.0
	if g := sub("goal"); g != "" {
		x, err := strconv.ParseFloat(g, 64)
		if err != nil {
			return run{}, false
		}
		goal = 1 + x/100
	}
	var v [3]float64
	slack := 0.0
	for i, name := range []string{"med", "lo", "hi"} {
		num := sub(name)
		x, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return run{}, false
		}
		v[i] = 1 + x/100
		decimals := 0
		if _, frac, ok := strings.Cut(num, "."); ok {
			decimals = len(frac)
		}
		slack = max(slack, 0.5*math.Pow(10, -float64(decimals))/100)
	}
	// The row's verdict is its last cell.
	line := text[m[0]:]
	if end := strings.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	cells := strings.Split(strings.TrimSuffix(strings.TrimSpace(line), "|"), "|")
	verdict := strings.TrimSpace(cells[len(cells)-1])
	return run{commit: c[1], e: estimate{med: v[0], lo: v[1], hi: v[2], n: 1, ok: true}, verdict: verdict, goal: goal, slack: slack}, true
}

// pastReport is a committed version of report.md: its run's commit and its text.
type pastReport struct{ commit, text string }

// pastReports returns the committed versions of the report at path (relative to top) whose
// run measured code with the settings want (settingsOf), oldest first, leaving out the run of
// commit skip (this report's own) and runs on uncommitted changes. A run whose report was
// committed more than once (re-rendered by a later cmd/report) counts once, as its last
// version reads it.
func pastReports(top, path string, spec []string, code, skip string, want map[string]string) ([]pastReport, error) {
	versions, err := git(top, "log", "--reverse", "--format=%H", "--", path)
	if err != nil || versions == "" {
		return nil, err
	}
	var out []pastReport
	for _, v := range strings.Fields(versions) {
		text, err := git(top, "show", v+":"+path)
		if err != nil {
			continue // the file was deleted in v
		}
		c := commitRow.FindStringSubmatch(text)
		if c == nil || c[2] != "" || sameCommit(c[1], skip) || !sameSettings(text, want) {
			continue
		}
		if mc, err := codeOf(top, c[1], spec); err == nil && mc == code {
			out = slices.DeleteFunc(out, func(o pastReport) bool { return o.commit == c[1] })
			out = append(out, pastReport{commit: c[1], text: text})
		}
	}
	return out, nil
}

// runsOf returns the runs of reports that hold the figure fig, in their order.
func runsOf(reports []pastReport, fig *regexp.Regexp) []run {
	var out []run
	for _, p := range reports {
		if r, ok := parseRun(p.text, fig); ok {
			out = append(out, r)
		}
	}
	return out
}

// acrossRuns judges goal on runs: with minRuns or more, on the sign-test interval of their
// medians, widened by the figures' rounding (a median read back as +8.0 % may be +8.04 %);
// with fewer, met (or missed) only when every run's own verdict is (read against goal:
// verdictAt), and never on one run, whose interval does not cover what moves between runs.
func acrossRuns(runs []run, goal float64) (estimate, string) {
	meds := make([]float64, len(runs))
	slack := 0.0
	for i, r := range runs {
		meds[i] = r.e.med
		slack = max(slack, r.slack)
	}
	e := medianCI(meds)
	if len(runs) >= minRuns {
		judged := e
		judged.lo, judged.hi = e.lo-slack, e.hi+slack
		return e, goalVerdict(judged, goal)
	}
	switch len(runs) {
	case 0:
		return e, verdictNoMeasure
	case 1:
		return e, verdictUnknown + ": one run"
	}
	first := runs[0].verdictAt(goal)
	for _, r := range runs[1:] {
		if r.verdictAt(goal) != first {
			return e, verdictUnknown + ": the runs disagree"
		}
	}
	if first != verdictMet && first != verdictMissed {
		return e, verdictUnknown
	}
	return e, fmt.Sprintf("%s in each of the %d runs (fewer than %d: no interval across runs)", first, len(runs), minRuns)
}

// verdictAt is the class (verdictClass) of the run's own verdict against goal: as given when it
// was given against goal; when against another bound, met only if that bound is at most goal
// (an interval within it is within goal), missed only if it is at least goal, else
// verdictUnknown.
func (r run) verdictAt(goal float64) string {
	c := verdictClass(r.verdict)
	if r.goal == 0 || math.Abs(r.goal-goal) < 1e-9 {
		return c
	}
	switch {
	case c == verdictMet && r.goal <= goal, c == verdictMissed && r.goal >= goal:
		return c
	}
	return verdictUnknown
}

// verdictClass is verdictMet or verdictMissed for a verdict that says so (", in every process"
// may follow), verdictUnknown for any other.
func verdictClass(v string) string {
	for _, c := range []string{verdictMet, verdictMissed} {
		if v == c || strings.HasPrefix(v, c+",") {
			return c
		}
	}
	return verdictUnknown
}

// sameCode is what the committed reports of this run's measured code hold (readSameCode).
type sameCode struct {
	read    bool
	ok      bool // the code could be told: a known commit without uncommitted changes, git
	linked  bool // the measured code is the packages the run links (linkedCode), not measuredCode
	code    string
	reports []pastReport
}

// readSameCode finds, once, the committed reports of the code this report's run measured.
func (r *report) readSameCode() *sameCode {
	s := &r.same
	if s.read {
		return s
	}
	s.read = true
	commit := r.envs["commit"]
	if commit == "" || strings.Contains(commit, "uncommitted") {
		return s
	}
	abs, err := filepath.Abs(r.dir)
	if err != nil {
		return s
	}
	top, err := git(abs, "rev-parse", "--show-toplevel")
	if err != nil {
		return s
	}
	spec, err := linkedCode(top, moduleDir(abs))
	if s.linked = err == nil; !s.linked {
		spec = measuredCode
	}
	code, err := codeOf(top, commit, spec)
	if err != nil || code == "" {
		return s
	}
	rel, err := filepath.Rel(top, filepath.Join(abs, "report.md"))
	if err != nil {
		return s
	}
	if s.reports, err = pastReports(top, filepath.ToSlash(rel), spec, code, commit, settingsOf(r.envs)); err != nil {
		return s
	}
	s.code, s.ok = code, true
	return s
}

// moduleDir returns the directory of the Go module that holds dir (absolute): the nearest with a
// go.mod, dir itself when none has.
func moduleDir(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// acrossRunsRow adds the row of goal (a bound on fig's figure, now in this run, whose own
// verdict is verdict) judged across the runs of this code; this run is one of them only when it
// measured the goal with an interval (now.ok), as its report, read back, is one.
func (r *report) acrossRunsRow(name string, now estimate, verdict string, fig *regexp.Regexp, goal float64, row func(goal, measured, short, verdict string)) {
	same := r.readSameCode()
	if !same.ok {
		return
	}
	runs := runsOf(same.reports, fig)
	if now.ok {
		// A run that measured nothing of the goal (no round holds both figures) is no run of
		// it: its median would read 0, or −100 %. Nor is one of too few rounds for an
		// interval (one to five): its bare median would count as much as a run's that has
		// one, and its report, read back later (the figure then has no interval), is none.
		runs = append(runs, run{commit: r.envs["commit"], e: now, verdict: verdict})
	}
	e, verdict := acrossRuns(runs, goal)
	m := runsLine(runs, same.code)
	if e.ok {
		m += fmt.Sprintf("; their medians' interval [%+.1f – %+.1f %%]", (e.lo-1)*100, (e.hi-1)*100)
		if len(runs) >= minRuns && len(runs) > 1 {
			m += " (judged ± 0.05, the figures read back from the reports being rounded to 0.1)"
		}
	}
	row(name+", across runs", m, m, verdict)
}

// sameCommit says whether two commit names, full or abbreviated, name the same commit.
func sameCommit(a, b string) bool {
	return a != "" && b != "" && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a))
}

// short is a commit's first 7 characters.
func short(c string) string { return c[:min(7, len(c))] }

// runsLine names runs, the runs of the code code, with each one's median over raw.
func runsLine(runs []run, code string) string {
	var fs []string
	for _, x := range runs {
		fs = append(fs, fmt.Sprintf("%s %+.1f %%", short(x.commit), (x.e.med-1)*100))
	}
	noun := "runs"
	if len(runs) == 1 {
		noun = "run"
	}
	return fmt.Sprintf("%d %s of the code of %s: %s", len(runs), noun, short(code), strings.Join(fs, ", "))
}
