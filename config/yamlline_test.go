package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestSyntaxErrorLine (issue 19 item 7): a YAML syntax error is reported on the line of the
// mistake, not on the line where the enclosing block began (the parser said line 2 for a
// mis-indented key on line 5).
func TestSyntaxErrorLine(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want string
	}{
		{"profiles:\n  p:\n    retry:\n      max_attempts: 2\n     initial_backoff: 1s\n", "c.yaml:5: invalid YAML"},
		{"profiles:\n  p:\n    retry: {max_attempts: 2\n", "c.yaml:3: invalid YAML"},
		{"budget: 8s\nprofiles:\n  p:\n    retry: {max_attempts: 2}\n  - q\n", "c.yaml:5: invalid YAML"},
		// A valid multi-line flow mapping above the mistake does not draw the line up to it.
		{"profiles:\n  p:\n    retry: {max_attempts: 2,\n      initial_backoff: 1s}\n    breaker:\n      a: 1\n     b: 2\n", "c.yaml:7: invalid YAML"},
		{"budget: 8s\nprofiles: @x\n", "c.yaml:2: invalid YAML"},
	} {
		_, _, err := config.Parse("c.yaml", []byte(tt.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %s", tt.yaml, err, tt.want)
		}
	}
}
