package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSummaryBlock writes the headline over generated paired data and checks that the block
// it splices into a document carries the report's own figures: each chain's allocations and
// time, the goals with their verdicts, and the machine and commit from env.txt; and that the
// text around the block is kept and a second run gives the same document.
func TestSummaryBlock(t *testing.T) {
	dir := t.TempDir()
	writePaired(t, dir, 200, map[string]float64{"suite": 1.14, "failsafe": 1.22, "timeout": 1.04, "grpc_timeout": 1.04, "raw2": 1}, 0.01)
	env := "date: 2026-12-02T08:00:00Z\ncommit: abc1234\ncpu: AMD EPYC\nnproc: 2\nload before (1, 5, 15 min): 0.50 1.00 1.50\n"
	if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := parse(filepath.Join(dir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	// The 1 ms layout: the suite 1 % over raw.
	slowDir := t.TempDir()
	writePaired(t, slowDir, 80, map[string]float64{"suite": 1.01, "failsafe": 1.02, "raw2": 1}, 0.002)
	slow, err := parse(filepath.Join(slowDir, "paired.out"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &report{w: &out, dir: dir}
	r.env()
	r.headline(ss, nil)
	r.sum.slow = r.pairedSection(slow, "A 1 ms call: the services' regime", slowTextOf(0, estimate{}))
	if !strings.Contains(out.String(), "## A 1 ms call") {
		t.Fatalf("no 1 ms section in the report:\n%s", out.String())
	}

	doc := filepath.Join(dir, "BENCHMARKS.md")
	before, after := "# title\n\nintro\n\n", "\n## after\n\ntext\n"
	if err := os.WriteFile(doc, []byte(before+summaryBegin+"\nstale\n"+summaryEnd+"\n"+after), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateSummary(doc, &r.sum, r.envs); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(doc)
	text := string(got)
	if !strings.HasPrefix(text, before+summaryBegin) || !strings.HasSuffix(text, summaryEnd+"\n"+after) || strings.Contains(text, "stale") {
		t.Fatalf("block not spliced in place:\n%s", text)
	}
	if !regexp.MustCompile(`(?m)^\| suite \| [^|]* \| \+7\.00 \| \+1[34]\.[0-9] % \[[^]]*\] \| — \| \+1\.0 % \[[^]]*\] \|$`).MatchString(text) {
		t.Errorf("the suite's row lacks its 1 ms figure (+1.0 %%) or has a shared one:\n%s", text)
	}
	for _, want := range []string{
		"commit abc1234, 2026-12-02T08:00:00Z (AMD EPYC × 2, load 0.50 before, — after)",
		"(200 rounds in 1 processes)",
		// The suite's row: +7 allocations, +14 % (the generated data's ratio), no shared
		// layout, +1 % on a 1 ms call.
		`| suite | ` + chainText["suite"] + ` | +7.00 | +1`,
		`| failsafe | ` + chainText["failsafe"] + ` | +43.00 | +22.`,
		`| timeout | ` + chainText["timeout"] + ` | +5.00 | +4.`,
		"| full suite + promobs: ≤ +12 allocs over raw | +7.00 allocs | met |",
		"| full suite + promobs: ≤ +8 % time over raw | +1",
		"| suite's overhead ≤ ½ failsafe-go's: allocs | +7.00 against +43.00: 0.16× | met |",
		"The suite's overhead above the `grpc_timeout` chain's, per round: +10.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	// Every goal verdict in the report's table is in the block, with the same verdict.
	rows := regexp.MustCompile(`(?m)^\| (full suite[^|]*|built-in[^|]*|suite's overhead[^|]*) \| [^|]* \| ([^|]*) \|$`).FindAllStringSubmatch(out.String(), -1)
	if len(rows) != 4 {
		t.Fatalf("%d goal rows in the report, want 4 (the suite's two, failsafe-go's two):\n%s", len(rows), out.String())
	}
	for _, m := range rows {
		if !regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(m[1]) + ` \| [^|]* \| ` + regexp.QuoteMeta(m[2]) + ` \|$`).MatchString(text) {
			t.Errorf("the report's goal %q (%s) is not in the block with its verdict", m[1], m[2])
		}
	}
	if err := updateSummary(doc, &r.sum, r.envs); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(doc)
	if !bytes.Equal(got, again) {
		t.Errorf("a second run changed the document:\n%s\n----\n%s", got, again)
	}
}

// TestSpliceNeedsOneBlock checks that a document without both markers, with them in the wrong
// order, or with two blocks is refused rather than written.
func TestSpliceNeedsOneBlock(t *testing.T) {
	block := []byte(summaryBegin + "\nnew\n" + summaryEnd + "\n")
	for name, doc := range map[string]string{
		"none":     "# doc\n",
		"no end":   summaryBegin + "\n",
		"reversed": summaryEnd + "\n" + summaryBegin + "\n",
		"two":      summaryBegin + "\n" + summaryEnd + "\n" + summaryBegin + "\n" + summaryEnd + "\n",
	} {
		if out, err := splice([]byte(doc), block); err == nil {
			t.Errorf("%s: spliced into %q: %q", name, doc, out)
		} else if name != "two" && !errors.Is(err, errNoMarkers) {
			t.Errorf("%s: error %v, want errNoMarkers", name, err)
		}
	}
	out, err := splice([]byte("a\n"+summaryBegin+"\nold\n"+summaryEnd), block)
	if err != nil || string(out) != "a\n"+string(block) {
		t.Errorf("block at the end of a file without a final newline: %q, %v", out, err)
	}
}

// TestEmptyPaired: a paired.out without rounds (the paired run failed or was cut before its
// first) is said to be empty, in the report and in the summary, rather than read as a paired
// layout of "0 rounds in 0 processes" whose goals the summary then lists; the goals come from
// the per-process layout and say so.
func TestEmptyPaired(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"paired.out", "nodeadline.out", "inflight.out", "stack.out", "hotpath.out", "paired_shared.out", "paired_1ms.out", "ownconfigured.out", "own.out"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("goos: linux\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var head bytes.Buffer
	for r := range 8 {
		fmt.Fprintf(&head, "# round %d\n", r)
		for _, c := range []string{"raw", "suite", "failsafe"} {
			x := map[string]float64{"raw": 1, "suite": 1.05, "failsafe": 1.3}[c]
			fmt.Fprintf(&head, "BenchmarkUnaryDL/chain=%s/mode=serial-2\t15000\t%.0f ns/op\t160 allocs/op\n", c, 30000*x*(1+0.001*float64(r)))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "headline.out"), head.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte("commit: abc1234\nnproc: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "BENCHMARKS.md")
	if err := os.WriteFile(doc, []byte(summaryBegin+"\n"+summaryEnd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-dir", dir, "-summary", doc)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cmd/report: %v", err)
	}
	if !strings.Contains(string(out), "The paired run is empty") {
		t.Errorf("the report does not say the paired run is empty:\n%s", out)
	}
	sum, _ := os.ReadFile(doc)
	if strings.Contains(string(sum), "0 rounds in 0 processes") || !strings.Contains(string(sum), "The paired run is empty") {
		t.Errorf("summary of an empty paired run:\n%s", sum)
	}
	if !strings.Contains(string(sum), "per-process layout") {
		t.Errorf("summary's goals do not say they are of the per-process layout:\n%s", sum)
	}
}

// TestSummaryControlDigits: the summary's A/A control row (raw2) is read, as the report's, for
// whether its interval holds 0 %: an interval of -0.04 % throughout (the report's note: "does
// not hold 1.000") must not print as -0.0 %, which reads as 0, in any of the row's layouts.
func TestSummaryControlDigits(t *testing.T) {
	of := func(xs ...float64) map[string]ratioAllocs {
		by := map[int]float64{}
		for i, x := range xs {
			by[i+1] = x
		}
		return map[string]ratioAllocs{"raw2": {r: ratio{med: median(xs), rounds: len(xs), byRound: by}}}
	}
	below := append(slices.Repeat([]float64{0.9996}, 15), slices.Repeat([]float64{0.9998}, 5)...)
	above := append(slices.Repeat([]float64{1.0002}, 5), slices.Repeat([]float64{1.0004}, 15)...)
	s := &summary{paired: of(below...), shared: of(above...), slow: of(slices.Repeat([]float64{1}, 20)...), rounds: 20, procs: 1}
	var out bytes.Buffer
	s.write(&out, nil)
	want := "| raw2 | " + chainText["raw2"] + " | +0.00 | -0.04 % [-0.04 – -0.04 %] | +0.04 % [+0.04 – +0.04 %] | +0.0 % [+0.0 – +0.0 %] |"
	if !strings.Contains(out.String(), want+"\n") {
		t.Errorf("the A/A control's row, want\n%s\nin\n%s", want, out.String())
	}
}
