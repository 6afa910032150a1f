package config

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

// maxLinesToLocate bounds the documents syntaxErrorLine searches.
const maxLinesToLocate = 5000

// mistakeLookahead is how many lines after a candidate mistake locateMistake tries for a
// prefix that parses again: a multi-line flow collection or quoted scalar that spans more
// lines than this, cut by the search, can draw the line up into it.
const mistakeLookahead = 16

// syntaxErrorLine returns the line of a YAML syntax error in data better than the YAML
// parser's message does: for parser errors ("did not find expected key") the parser reports
// the line where the enclosing block began, which may be far above the mistake. The mistake
// is where the document stops being readable for good: the first line L such that every
// prefix of data ending on line L or later fails to parse. (A prefix that ends inside a
// multi-line flow collection fails too, but a longer one succeeds again, so it is skipped: a
// flow of up to mistakeLookahead lines.)
// It returns reported when it cannot do better (no lines, or a very long document).
func syntaxErrorLine(data []byte, reported int) int {
	return locateMistake(data, reported, yamlFails)
}

// yamlFails reports whether data fails to parse as YAML: any of its documents, as a
// mistake in a second one is located too (yaml.Unmarshal reads the first only).
func yamlFails(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := dec.Decode(&n); {
		case errors.Is(err, io.EOF):
			return false
		case err != nil:
			return true
		}
	}
}

// locateMistake is syntaxErrorLine with fails as the parser. Rather than parse every prefix
// from the end up (as many parses as lines below the mistake, each as long as the document
// up to it: seconds for a mistake halfway down a few thousand lines), it bisects between a
// prefix that parses and one that fails, then tries the next mistakeLookahead lines: a prefix
// among them that parses (the bisection cut a multi-line flow) starts the search again below
// it. That is log2(lines) + mistakeLookahead parses, and as many again for each multi-line
// flow the bisection cuts.
func locateMistake(data []byte, reported int, fails func([]byte) bool) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	n := len(lines)
	if n == 0 || n > maxLinesToLocate {
		return reported
	}
	ends := make([]int, n+1) // ends[l]: length of the prefix made of the first l lines
	for i, l := range lines {
		ends[i+1] = ends[i] + len(l)
	}
	failsAt := func(l int) bool { return fails(data[:ends[l]]) }
	if !failsAt(n) {
		return reported
	}
	// good parses (the empty prefix does), bad fails; the mistake is after good.
	good, bad := 0, n
	for {
		for bad-good > 1 {
			if mid := good + (bad-good)/2; failsAt(mid) {
				bad = mid
			} else {
				good = mid
			}
		}
		again := 0
		for l := bad + 1; l < min(n, bad+1+mistakeLookahead); l++ {
			if !failsAt(l) {
				again = l
				break
			}
		}
		if again == 0 {
			break
		}
		good, bad = again, n
	}
	l := bad
	// A prefix that ends on a line cut mid-way cannot be told from the mistake; the last
	// line of data may be empty after a final newline.
	if l == n && len(bytes.TrimSpace(lines[n-1])) == 0 && n > 1 {
		l--
	}
	return max(l, 1)
}
