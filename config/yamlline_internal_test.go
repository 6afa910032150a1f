package config

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// bigDocument is a valid configuration-like document of about n lines: profiles of three
// keys each, and, when flows is set, a two-line flow mapping in every tenth profile.
func bigDocument(n int, flows bool) []string {
	lines := []string{"profiles:"}
	for i := 0; len(lines) < n; i++ {
		lines = append(lines, fmt.Sprintf("  p%d:", i))
		if flows && i%10 == 3 {
			lines = append(lines, "    retry: {max_attempts: 2,", "      initial_backoff: 1s}")
			continue
		}
		lines = append(lines, "    retry:", "      max_attempts: 2")
	}
	return lines
}

// withMistake returns lines as a document with a key inserted as line at (1-based), indented
// one column less than the key above it: a mistake when the line above is a profile's last
// (at = 5, 8, 11, ...).
func withMistake(lines []string, at int) []byte {
	out := append([]string{}, lines[:at-1]...)
	out = append(out, "     initial_backoff: 1s")
	out = append(out, lines[at-1:]...)
	return []byte(strings.Join(out, "\n") + "\n")
}

// exactMistakeLine is the definition syntaxErrorLine computes: the first line L such that
// every prefix of data ending on line L or later fails to parse, one parse per line.
func exactMistakeLine(data []byte) int {
	lines := strings.SplitAfter(string(data), "\n")
	n := len(lines)
	fails := func(l int) bool { return yamlFails([]byte(strings.Join(lines[:l], ""))) }
	l := n
	for l > 1 && fails(l-1) {
		l--
	}
	if l == n && strings.TrimSpace(lines[n-1]) == "" && n > 1 {
		l--
	}
	return max(l, 1)
}

// A mistake near the top of a long file is located with a number of parses that grows with
// the logarithm of the file's length, not with the lines below the mistake: the search used to
// parse every prefix from the end up (4000 parses of up to 4000 lines here, seconds; a fuzzed
// 266-line file took 50 ms to report its error).
func TestSyntaxErrorLineParsesFewPrefixes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lines int
		at    int
		flows bool
	}{
		{"top", 4000, 5, false},
		{"middle", 4000, 2003, false},
		{"bottom", 4000, 3992, false},
		{"below_flows", 4000, 3002, true},
		{"short", 40, 8, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := withMistake(bigDocument(tt.lines, tt.flows), tt.at)
			parses := 0
			got := locateMistake(data, 1, func(prefix []byte) bool {
				parses++
				return yamlFails(prefix)
			})
			if got != tt.at {
				t.Errorf("line %d, want %d", got, tt.at)
			}
			// log2(4000) = 12 halvings, the lookahead after each candidate, and the checks
			// of the whole document.
			if limit := 2*12 + 2*mistakeLookahead + 4; parses > limit {
				t.Errorf("%d parses, want at most %d", parses, limit)
			}
		})
	}
}

// syntaxErrorLine finds the line the exact definition gives on documents whose multi-line flow
// collections span fewer lines than its lookahead: random documents of random flows, with a
// mistake at a random line, seeded.
func TestSyntaxErrorLineMatchesTheDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 12))
	compared := 0
	for i := range 300 {
		var lines []string
		for p := range 5 + r.IntN(20) {
			lines = append(lines, fmt.Sprintf("p%d:", p))
			switch r.IntN(4) {
			case 0:
				lines = append(lines, "  a: {x: 1,", "    y: [1,", "      2]}")
			case 1:
				lines = append(lines, "  b: \"two", "    lines\"")
			default:
				lines = append(lines, "  c: 1", "  d:", "    e: 2")
			}
		}
		mistakes := []string{"   f: 3", "  - g", "h: [1,", "  i: @x", "  j: {k"}
		at := 1 + r.IntN(len(lines))
		doc := append(append(append([]string{}, lines[:at-1]...), mistakes[r.IntN(len(mistakes))]), lines[at-1:]...)
		data := []byte(strings.Join(doc, "\n") + "\n")
		if !yamlFails(data) {
			continue // the mistake happened to be valid where it fell
		}
		if got, want := syntaxErrorLine(data, 1), exactMistakeLine(data); got != want {
			t.Fatalf("document %d: line %d, want %d:\n%s", i, got, want, data)
		}
		compared++
	}
	if compared < 200 {
		t.Fatalf("%d documents compared, want at least 200", compared)
	}
}

// FuzzSyntaxErrorLine: on a document of at most mistakeLookahead+1 lines the lookahead sees
// every line below a candidate, so syntaxErrorLine must give exactly the definition's line;
// on any document it must give a line of the document (or the reported one) without panicking.
func FuzzSyntaxErrorLine(f *testing.F) {
	f.Add([]byte("profiles:\n  p:\n    retry: {max_attempts: 2,\n      initial_backoff: 1s}\n    breaker:\n      a: 1\n     b: 2\n"))
	f.Add([]byte("a: \"two\n  lines\"\nb: [1,\n  2]\n c: 3\n"))
	f.Add([]byte("budget: 8s\nprofiles: @x\n"))
	f.Add([]byte("a: [1,\n  2,\n  3,\n  4,\n  5,\n  6,\n  7,\n  8]\nb:\n  c: 1\n d: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		if lines > maxLinesToLocate {
			return
		}
		got := syntaxErrorLine(data, -1)
		if got == -1 {
			if yamlFails(data) {
				t.Fatalf("reported line kept for a document that fails:\n%q", data)
			}
			return
		}
		if got < 1 || got > lines {
			t.Fatalf("line %d of a %d-line document:\n%q", got, lines, data)
		}
		if lines <= mistakeLookahead+1 {
			if want := exactMistakeLine(data); got != want {
				t.Fatalf("line %d, want %d:\n%q", got, want, data)
			}
		}
	})
}
