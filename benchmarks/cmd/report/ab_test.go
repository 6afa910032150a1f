package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestABPairsCancelTheProcessLayout compares two sides whose processes share a layout effect
// (each process of a pair moves every chain by the same shift, as a process's heap and code
// placement does) larger than the difference between the sides: the sides' own intervals
// overlap, and the per-pair difference still finds the change, its sign and its size.
func TestABPairsCancelTheProcessLayout(t *testing.T) {
	shifts := []float64{-0.06, 0.02, 0.04, -0.02, 0, 0.06, -0.04, 0.03, -0.03, 0.01, 0.05, -0.05}
	for _, tc := range []struct {
		name    string
		delta   float64
		verdict string
		slower  int
	}{
		{"slower", 0.01, "**new slower**", len(shifts)},
		{"faster", -0.01, "**new faster**", 0},
		{"same", 0, "no difference established", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for side, d := range map[string]float64{"old": 0, "new": tc.delta} {
				sub := t.TempDir()
				writePaired(t, sub, 20*len(shifts), map[string]float64{"suite": 1.07 + d, "raw2": 1}, 0.005, shifts...)
				if err := os.Rename(filepath.Join(sub, "paired.out"), filepath.Join(dir, "ab_"+side+".out")); err != nil {
					t.Fatal(err)
				}
			}
			old, err := parse(filepath.Join(dir, "ab_old.out"))
			if err != nil {
				t.Fatal(err)
			}
			nw, err := parse(filepath.Join(dir, "ab_new.out"))
			if err != nil {
				t.Fatal(err)
			}
			row := abRowOf(old, nw, "suite")
			if row.pairs != len(shifts) {
				t.Fatalf("%d pairs, want %d (one per process)", row.pairs, len(shifts))
			}
			if math.Abs(row.diff.med-tc.delta) > 0.003 {
				t.Errorf("per-pair difference %s, want %+.3f", row.diff, tc.delta)
			}
			if got := abVerdict(row.diff); got != tc.verdict {
				t.Errorf("verdict %q (difference %s), want %q", got, row.diff, tc.verdict)
			}
			if row.slower != tc.slower {
				t.Errorf("%d pairs read new slower, want %d", row.slower, tc.slower)
			}
			if tc.delta != 0 && (row.old.hi < row.new.lo || row.new.hi < row.old.lo) {
				t.Errorf("the sides' own intervals %s and %s do not overlap: the layout effect set up is not larger than the change", row.old, row.new)
			}
		})
	}
}

// TestABVerdictWithoutInterval says so rather than judge a difference from too few pairs.
func TestABVerdictWithoutInterval(t *testing.T) {
	if got := abVerdict(medianCI([]float64{0.05, 0.04})); got != "too few pairs for an interval" {
		t.Fatalf("verdict %q from two pairs", got)
	}
}
