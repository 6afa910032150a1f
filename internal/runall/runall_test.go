package runall

import (
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestEach: every func runs, in order, also after one panics; Each then panics with the first
// value; without a panic it returns.
func TestEach(t *testing.T) {
	var ran []int
	Each([]func(){func() { ran = append(ran, 1) }, func() { ran = append(ran, 2) }})
	if !slices.Equal(ran, []int{1, 2}) {
		t.Fatalf("ran %v, want [1 2]", ran)
	}
	ran = nil
	got := func() (r any) {
		defer func() { r = recover() }()
		Each([]func(){
			func() { ran = append(ran, 1); panic("first") },
			func() { ran = append(ran, 2); panic("second") },
			func() { ran = append(ran, 3) },
		})
		return nil
	}()
	if !slices.Equal(ran, []int{1, 2, 3}) {
		t.Errorf("ran %v, want [1 2 3]", ran)
	}
	if got != "first" {
		t.Errorf("Each panicked with %v, want the first func's value %q", got, "first")
	}
}

// TestFor: f runs with every value, in order, also after a call panics; For then panics with
// the first call's value.
func TestFor(t *testing.T) {
	var ran []int
	got := func() (r any) {
		defer func() { r = recover() }()
		For([]int{1, 2, 3}, func(x int) {
			ran = append(ran, x)
			if x < 3 {
				panic(x)
			}
		})
		return nil
	}()
	if !slices.Equal(ran, []int{1, 2, 3}) {
		t.Errorf("ran %v, want [1 2 3]", ran)
	}
	if got != 1 {
		t.Errorf("For panicked with %v, want the first call's value 1", got)
	}
}
