package config_test

import (
	"os"
	"strings"
	"testing"
)

// kyc.yaml is builtin.yaml written out for a user to copy: past its own opening lines it is
// builtin.yaml word for word, comments included, so that the numbers its comments quote
// (-explain's timelines, the measurements) are the built-ins' and cannot drift from them.
func TestKYCExampleTextIsBuiltin(t *testing.T) {
	const from = "# The retry numbers are the reference KYC profiles"
	tail := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(string(b), from)
		if !ok {
			t.Fatalf("%s has no line starting %q", path, from)
		}
		return after
	}
	got, want := strings.Split(tail("examples/kyc.yaml"), "\n"), strings.Split(tail("builtin.yaml"), "\n")
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("examples/kyc.yaml differs from builtin.yaml after %q, at its line %d:\n kyc.yaml:     %q\n builtin.yaml: %q", from, i+1, g, w)
		}
	}
}
