package config

import (
	"bytes"

	"go.yaml.in/yaml/v3"
)

// maxLinesToLocate bounds the documents syntaxErrorLine searches (it parses up to one prefix
// per line).
const maxLinesToLocate = 5000

// syntaxErrorLine returns the line of a YAML syntax error in data better than the YAML
// parser's message does: for parser errors ("did not find expected key") the parser reports
// the line where the enclosing block began, which may be far above the mistake. The mistake
// is where the document stops being readable for good: the first line L such that every
// prefix of data ending on line L or later fails to parse. (A prefix that ends inside a
// multi-line flow collection fails too, but a longer one succeeds again, so it is skipped.)
// It returns reported when it cannot do better (no lines, or a very long document).
func syntaxErrorLine(data []byte, reported int) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) == 0 || len(lines) > maxLinesToLocate {
		return reported
	}
	ends := make([]int, len(lines)+1) // ends[l]: length of the prefix made of the first l lines
	for i, l := range lines {
		ends[i+1] = ends[i] + len(l)
	}
	fails := func(l int) bool {
		var n yaml.Node
		return yaml.Unmarshal(data[:ends[l]], &n) != nil
	}
	n := len(lines)
	if !fails(n) {
		return reported
	}
	l := n
	for l > 1 && fails(l-1) {
		l--
	}
	// A prefix that ends on a line cut mid-way cannot be told from the mistake; the last
	// line of data may be empty after a final newline.
	if l == n && len(bytes.TrimSpace(lines[n-1])) == 0 && n > 1 {
		l--
	}
	return max(l, 1)
}
