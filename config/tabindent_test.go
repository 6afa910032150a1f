package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestTabIndentNamed: a line indented with a tab, which YAML does not allow, was refused
// with the parser's "invalid YAML: found character that cannot start any token", which names
// no tab, though the line looks right in most editors. The message says what is wrong.
func TestTabIndentNamed(t *testing.T) {
	for _, data := range []string{
		"profiles:\n  p:\n\tretry: {max_attempts: 2}\n",
		"profiles:\n  p:\n  \tretry: {max_attempts: 2}\n",
	} {
		_, _, err := config.Parse("tab.yaml", []byte(data))
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("Parse(%q) = %v, want the tab refused", data, err)
		}
		rule := "invalid YAML: found character that cannot start any token: the line is indented with a tab, and YAML indents with spaces only"
		if ce.Line != 3 || ce.Rule != rule {
			t.Fatalf("Parse(%q): error %q, want at line 3: %s", data, ce, rule)
		}
	}
	// A tab after the indentation is whitespace YAML accepts.
	if _, _, err := config.Parse("ok.yaml", []byte("profiles:\n  p:\n    retry: {max_attempts:\t2}\n")); err != nil {
		t.Fatalf("Parse: %v", err)
	}
}
