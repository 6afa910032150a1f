package app

import (
	"io"
	"strings"
	"testing"
)

// TestIntegerFlagsReadInBase10: an integer flag is a decimal number, leading zeros and all.
// The flag package reads them in base 0: "-n 08" was a usage error (8 is no octal digit) and
// "-seed 010" ran seed 8.
func TestIntegerFlagsReadInBase10(t *testing.T) {
	f, err := parseFlags(strings.Fields("-n 08 -concurrency 010 -seed 010 -capacity 09"), io.Discard)
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if f.batch.N != 8 || f.batch.Concurrency != 10 || f.seed != 10 || f.faults.Capacity != 9 {
		t.Errorf("-n %d -concurrency %d -seed %d -capacity %d, want 8 10 10 9", f.batch.N, f.batch.Concurrency, f.seed, f.faults.Capacity)
	}
	var stderr strings.Builder
	if _, err := parseFlags(strings.Fields("-n 0x10"), &stderr); err == nil || !strings.Contains(stderr.String(), `invalid value "0x10" for flag -n: want a whole number`) {
		t.Errorf("-n 0x10: %v, stderr %q, want the whole-number rule", err, stderr.String())
	}
}
