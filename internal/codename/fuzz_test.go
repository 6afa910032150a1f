package codename

import (
	"strings"
	"testing"

	grpccodes "google.golang.org/grpc/codes"
)

// FuzzParse checks that Parse accepts exactly the canonical names (Name of a code gives the
// input back), and that Rule and Near never panic, Near naming a canonical name or nothing and
// Rule saying what name is not.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"UNAVAILABLE", "unavailable", "DeadlineExceeded", "14", "17", "-1", "", "OK", "CANCELED",
		"UNAVAILABEL", "_-_ ", "ǅ", "\xff", strings.Repeat("A", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, ok := Parse(name)
		want := false
		for k := grpccodes.OK; k <= grpccodes.Unauthenticated; k++ {
			want = want || Name(k) == name
		}
		if ok != want || ok && Name(c) != name {
			t.Fatalf("Parse(%q) = %v, %v; canonical: %v", name, c, ok, want)
		}
		if near := Near(name); near != "" {
			if _, ok := Parse(near); !ok {
				t.Fatalf("Near(%q) = %q, not a code name", name, near)
			}
		}
		if r := Rule(name); !strings.HasPrefix(r, "is ") {
			t.Fatalf("Rule(%q) = %q", name, r)
		}
	})
}
