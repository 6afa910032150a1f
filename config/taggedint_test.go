package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestTaggedIntNotWholeNumber: a value tagged !!int that is no whole number at all was
// refused as out of range: max_attempts: !!int 3.5 said "3.5 is out of range (a whole number
// is at most 9223372036854775807 either way)", and !!int abc the same. Only a whole number
// past an int64 is out of range; the others are not whole numbers.
func TestTaggedIntNotWholeNumber(t *testing.T) {
	for _, tc := range []struct{ value, rule string }{
		{"3.5", "is not a whole number"},
		{"abc", "is not a whole number"},
		{"0x", "is not a whole number"},
		{"99999999999999999999", "is out of range (a whole number is at most 9223372036854775807 either way)"},
		{"-0x8000000000000001", "is out of range (a whole number is at most 9223372036854775807 either way)"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			data := "profiles:\n  p:\n    retry:\n      max_attempts: !!int " + tc.value + "\n"
			_, _, err := config.Parse("int.yaml", []byte(data))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want !!int %s refused", err, tc.value)
			}
			if ce.Path != "profiles.p.retry.max_attempts" || ce.Line != 4 || ce.Value != tc.value || ce.Rule != tc.rule {
				t.Fatalf("error %q, want at line 4 profiles.p.retry.max_attempts: %s %s", ce, tc.value, tc.rule)
			}
		})
	}
}

// TestTaggedFloatOutOfRange: multiplier: !!float 1e400 was refused as "1e400 is not a
// number", where the same number untagged is out of range.
func TestTaggedFloatOutOfRange(t *testing.T) {
	_, _, err := config.Parse("float.yaml", []byte("profiles:\n  p:\n    retry:\n      multiplier: !!float 1e400\n"))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse = %v, want !!float 1e400 refused", err)
	}
	rule := "is out of range (a number is at most 1.7976931348623157e+308 either way)"
	if ce.Path != "profiles.p.retry.multiplier" || ce.Line != 4 || ce.Value != "1e400" || ce.Rule != rule {
		t.Fatalf("error %q, want at line 4 profiles.p.retry.multiplier: 1e400 %s", ce, rule)
	}
}
