package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestSyntaxErrorInSecondDocumentLine: a syntax error in a second document was reported at
// the line the parser names, without the correction a first document's error gets: the
// line of the block around the mistake ("did not find expected key" at the profile's line,
// three above the mistake), and a tab in the indentation not named. It is reported as it
// would be in the first document, at the line of the file.
func TestSyntaxErrorInSecondDocumentLine(t *testing.T) {
	const head = "budget: 1s\n# joined\n---\n" // 3 lines before the second document
	for _, bad := range []string{
		"profiles:\n  p:\n    retry: {max_attempts: 2\n",
		"profiles:\n  p:\n    retry:\n      max_attempts: 2\n     bad: 3\n  q: {}\n",
		"profiles:\n  p:\n    retry:\n      max_attempts: 2\n    x\n  q: {}\n",
		"profiles:\n  p:\n\tretry: {max_attempts: 2}\n",
	} {
		_, _, first := config.Parse("t.yaml", []byte(bad))
		_, _, second := config.Parse("t.yaml", []byte(head+bad))
		if first == nil || second == nil {
			t.Fatalf("%q: errors %v and %v, want both refused", bad, first, second)
		}
		var f, s *config.Error
		if !errors.As(first, &f) || !errors.As(second, &s) {
			t.Fatalf("%q: errors %v and %v, want *config.Error", bad, first, second)
		}
		if s.Line != f.Line+3 || s.Rule != f.Rule {
			t.Errorf("%q in the second document: %q, want line %d: %s", bad, s, f.Line+3, f.Rule)
		}
	}
}
