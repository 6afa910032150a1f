package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestFloatWhereWholeNumberGoes: a float YAML reads in a whole-number field was refused as
// "is not a whole number" whatever its value, and a tagged one without its tag:
// max_concurrent: !!float 3 said "3 is not a whole number", and 1e3 "1e3 is not a whole
// number", which both are. The error names the value as written and the number to write, or
// says it is out of range.
func TestFloatWhereWholeNumberGoes(t *testing.T) {
	for _, tc := range []struct{ written, value, rule string }{
		{"!!float 3", "!!float 3", "is a float, not a whole number: write 3"},
		{"3.0", "3.0", "is a float, not a whole number: write 3"},
		{"1e3", "1e3", "is a float, not a whole number: write 1000"},
		{"-2.0e1", "-2.0e1", "is a float, not a whole number: write -20"},
		{"1e30", "1e30", "is out of range (a whole number is at most 9223372036854775807 either way)"},
		{"2.5", "2.5", "is not a whole number"},
		{".inf", ".inf", "is not a whole number"},
	} {
		t.Run(tc.written, func(t *testing.T) {
			data := "profiles:\n  p:\n    bulkhead:\n      max_concurrent: " + tc.written + "\n"
			_, _, err := config.Parse("int.yaml", []byte(data))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want %s refused", err, tc.written)
			}
			if ce.Path != "profiles.p.bulkhead.max_concurrent" || ce.Line != 4 || ce.Value != tc.value || ce.Rule != tc.rule {
				t.Fatalf("error %q, want at line 4 profiles.p.bulkhead.max_concurrent: %s %s", ce, tc.value, tc.rule)
			}
		})
	}
}
