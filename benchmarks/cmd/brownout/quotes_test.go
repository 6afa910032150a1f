package main

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// row is what a row of brownout.md's table says of one configuration in one scenario.
type row struct{ decided, sentPerCall float64 }

// committedRows reads the table of the committed brownout.md: scenario → configuration → row.
func committedRows(t *testing.T) map[string]map[string]row {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "results", "brownout.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]row{}
	scenario := ""
	for line := range strings.Lines(string(b)) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 8 || !strings.HasSuffix(strings.TrimSpace(cells[3]), "%") {
			continue // not a row of the table (its head, its rule, prose)
		}
		if s := strings.TrimSpace(cells[1]); s != "" {
			scenario = s
		}
		decided, err1 := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cells[3]), "%")), 64)
		sent, err2 := strconv.ParseFloat(strings.TrimSpace(cells[6]), 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("brownout.md: cannot read the row %q", line)
		}
		if out[scenario] == nil {
			out[scenario] = map[string]row{}
		}
		out[scenario][strings.TrimSpace(cells[2])] = row{decided, sent}
	}
	return out
}

// commentText is the text of a YAML file's comments, one space between words.
func commentText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for line := range strings.Lines(string(b)) {
		if _, c, ok := strings.Cut(line, "#"); ok {
			words = append(words, strings.Fields(c)...)
		}
	}
	return strings.Join(words, " ")
}

// TestBuiltinQuotesTheCommittedRun: the figures config/builtin.yaml (and so kyc.yaml) quotes
// from brownout.md are those of the committed run, within their rounding, so that a new run
// (make -C benchmarks brownout) does not leave the built-ins' comments quoting an older one.
func TestBuiltinQuotesTheCommittedRun(t *testing.T) {
	rows := committedRows(t)
	at := func(scenario, configuration string) row {
		r, ok := rows[scenario][configuration]
		if !ok {
			t.Fatalf("brownout.md has no row for %q, %q", scenario, configuration)
		}
		return r
	}
	half, off, retry := at("F = 0.5", "built-ins"), at("F = 0.5", "every policy off"), at("F = 0.5", "retry only")
	third := at("F = 0.3", "built-ins")
	text := commentText(t, filepath.Join("..", "..", "..", "config", "builtin.yaml"))

	num := `(\d+(?:\.\d+)?)`
	quotes := []struct {
		what string
		re   string
		want []float64 // what brownout.md says, in the order of re's groups
	}{
		{"F = 0.5: decided and attempts per call, against every policy off and retry only",
			`brownout\.md\): ` + num + `% decided at ` + num + ` attempts per call, against ` + num + `% with every policy off and ` + num + `% at ` + num + ` with retries alone`,
			[]float64{half.decided, half.sentPerCall, off.decided, retry.decided, retry.sentPerCall}},
		{"F = 0.5: the load the built-ins take off, against retry only",
			`half its calls ` + num + `% less load`,
			[]float64{100 * (1 - half.sentPerCall/retry.sentPerCall)}},
		{"F = 0.3: decided", num + `% in benchmarks/results/brownout\.md`, []float64{third.decided}},
		{"F = 0.5: attempts per call", `\(` + num + ` at F = 0\.5 in brownout\.md`, []float64{half.sentPerCall}},
	}
	for _, q := range quotes {
		ms := regexp.MustCompile(q.re).FindAllStringSubmatch(text, -1)
		if len(ms) != 1 {
			t.Errorf("%s: builtin.yaml's comments match %q %d times, want once", q.what, q.re, len(ms))
			continue
		}
		for i, want := range q.want {
			s := ms[0][i+1]
			got, _ := strconv.ParseFloat(s, 64)
			// A figure is the table's, rounded to the digits written: 31% for 30.8 %, 1.33 for 1.33.
			digits := 0
			if _, frac, ok := strings.Cut(s, "."); ok {
				digits = len(frac)
			}
			if tol := 0.5*math.Pow(10, -float64(digits)) + 1e-9; math.Abs(got-want) > tol {
				t.Errorf("%s: builtin.yaml quotes %s in %q; the committed brownout.md says %.4g", q.what, s, ms[0][0], want)
			}
		}
	}
}
