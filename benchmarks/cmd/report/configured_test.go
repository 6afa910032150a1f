package main

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfigured writes methods_<kind>_<size>.out in dir: raw around 30 µs with a drift the
// round shares, raw2 at raw's time and the suite at over times raw, each times a per-round
// wobble of ±spread.
func writeConfigured(t *testing.T, dir, kind string, size, rounds int, over, spread float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(size), 7))
	var b bytes.Buffer
	for r := range rounds {
		fmt.Fprintf(&b, "# round %d\n", r)
		base := 30000 * (1 + 0.3*rng.Float64())
		for _, c := range []string{"suite", "raw", "raw2"} {
			f, allocs := 1.0, 163.0
			if c == "suite" {
				f, allocs = over, 166
			}
			ns := base * f * (1 + spread*(2*rng.Float64()-1))
			fmt.Fprintf(&b, "BenchmarkUnaryDLPaired/chain=%s-2\t2000\t%.0f ns/op\t%.0f cpu-ns/op\t%.0f B/op\t%.2f allocs/op\n",
				c, ns, ns*1.1, allocs*60, allocs)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("methods_%s_%d.out", kind, size)), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConfigured reads generated configured-size files: each row's ratio, the A/A control and
// the allocations over raw, a missing file left out, and the verdict of the largest size
// against the smallest, which names growth only when the intervals part.
func TestConfigured(t *testing.T) {
	dir := t.TempDir()
	writeConfigured(t, dir, "methods", 1, 60, 1.07, 0.02)
	writeConfigured(t, dir, "methods", 10000, 60, 1.07, 0.02)
	writeConfigured(t, dir, "services", 1, 60, 1.07, 0.02)
	writeConfigured(t, dir, "services", 100, 60, 1.07, 0.02)
	writeConfigured(t, dir, "services", 10000, 60, 1.30, 0.02)
	rows, err := configuredRows(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5 (methods 100 has no file)", len(rows))
	}
	for _, c := range rows {
		want := map[string]float64{"methods/1": 1.07, "methods/10000": 1.07, "services/1": 1.07, "services/100": 1.07, "services/10000": 1.30}[fmt.Sprintf("%s/%d", c.kind, c.size)]
		if !c.time.ok || math.Abs(c.time.med-want) > 0.01 || c.time.lo > want || c.time.hi < want {
			t.Errorf("%s %d: suite × raw %v, want about %.2f inside its interval", c.kind, c.size, c.time, want)
		}
		if math.Abs(c.aa.med-1) > 0.01 || c.allocs != 3 {
			t.Errorf("%s %d: A/A %v and %+.0f allocs, want about 1.000 and +3", c.kind, c.size, c.aa, c.allocs)
		}
	}
	got := configuredVerdict(rows)
	for _, want := range []string{"With 10000 methods configured the suite's time over raw, +7.", "overlaps the interval with 1, +7.",
		"With 10000 services configured the suite's time over raw, +30.", "does not overlap the interval with 1, +7."} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict %q does not say %q", got, want)
		}
	}
	var out bytes.Buffer
	r := &report{w: &out}
	r.configured(rows)
	if n := strings.Count(out.String(), "\n| methods |") + strings.Count(out.String(), "\n| services |"); n != 5 {
		t.Errorf("%d table rows, want 5:\n%s", n, out.String())
	}
	out.Reset()
	r.configured(nil)
	if !strings.Contains(out.String(), "Not measured.") {
		t.Errorf("no rows: %q, want Not measured.", out.String())
	}
}

// TestConfiguredNoSuite: a configuration whose file holds no suite block (its process cut
// short after raw's) has no suite figures: its row says so, rather than a suite of 0 ns/op and
// −163 allocations over raw.
func TestConfiguredNoSuite(t *testing.T) {
	dir := t.TempDir()
	writeConfigured(t, dir, "methods", 100, 20, 1.07, 0.02)
	path := filepath.Join(dir, "methods_methods_100.out")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.Contains(l, "chain=suite-") {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rows, err := configuredRows(dir)
	if err != nil {
		t.Fatal(err)
	}
	(&report{w: &out}).configured(rows)
	var row string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "| methods | 100 |") {
			row = l
		}
	}
	cells := strings.Split(row, "|")
	if len(cells) != 11 {
		t.Fatalf("no methods 100 row:\n%s", out.String())
	}
	for i, name := range map[int]string{4: "suite ns/op", 8: "allocs over raw", 9: "B/op over raw"} {
		if c := strings.TrimSpace(cells[i]); c != "—" {
			t.Errorf("%s of an unmeasured suite is %q, want —: %s", name, c, row)
		}
	}
}

// TestConfiguredVerdictDigits: intervals said not to overlap are printed with the digits that
// show the gap: [+6.0 – +8.01 %] and [+8.04 – +9.0 %] read "+8.0 %" at both ends, touching.
// Each facing bound printed on its side of the other's exact value is not enough either: an
// upper bound of +5.06 % reads +5.1 (within a lower bound of +5.12 %), and +5.12 reads +5.1
// (beyond +5.06 %), so the intervals read [… – +5.1 %] and [+5.1 – … %], touching. The
// facing bounds must print apart.
func TestConfiguredVerdictDigits(t *testing.T) {
	est := func(lo, med, hi float64) estimate { return estimate{med: med, lo: lo, hi: hi, n: 20, ok: true} }
	for _, tt := range []struct {
		name        string
		low, high   estimate
		lowS, highS string
	}{
		{"touching at one decimal", est(1.06, 1.07, 1.0801), est(1.0804, 1.085, 1.09), "+7.0 % [+6.0 – +8.0 %]", "+8.5 % [+8.04 – +9.0 %]"},
		{"each on its side", est(1.03, 1.04, 1.0506), est(1.0512, 1.06, 1.07), "+4.0 % [+3.0 – +5.06 %]", "+6.0 % [+5.12 – +7.0 %]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := configuredVerdict([]configuredRow{
				{kind: "methods", size: 1, time: tt.low},
				{kind: "methods", size: 10000, time: tt.high},
				{kind: "services", size: 1, time: tt.high},
				{kind: "services", size: 10000, time: tt.low},
			})
			for _, want := range []string{
				"With 10000 methods configured the suite's time over raw, " + tt.highS + ", does not overlap the interval with 1, " + tt.lowS + ".",
				"With 10000 services configured the suite's time over raw, " + tt.lowS + ", does not overlap the interval with 1, " + tt.highS + ".",
			} {
				if !strings.Contains(v, want) {
					t.Errorf("verdict\n%s\nwant it to hold\n%s", v, want)
				}
			}
		})
	}
}

// TestConfiguredUnreadable: a configured-size output that cannot be read ends the command before
// anything is written, as every other output of scripts/report.sh does (main), rather than a
// report whose table silently lacks the configuration's row.
func TestConfiguredUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"paired.out", "headline.out", "nodeadline.out", "inflight.out", "stack.out", "hotpath.out",
		"paired_shared.out", "paired_1ms.out", "ownconfigured.out", "own.out", "env.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A line longer than the scanner's buffer: parse fails on it.
	long := "# " + strings.Repeat("x", 128<<10) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "methods_methods_1.out"), []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-dir", dir)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Errorf("cmd/report with an unreadable methods_methods_1.out exited 0 and wrote %d bytes", stdout.Len())
	}
	if stdout.Len() != 0 {
		t.Errorf("cmd/report wrote %d bytes of a report with an unreadable input", stdout.Len())
	}
	if !strings.Contains(stderr.String(), "methods_methods_1.out") {
		t.Errorf("stderr %q does not name the unreadable file", stderr.String())
	}
}
