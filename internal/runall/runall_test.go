package runall

import (
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
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

// panicInSink stands for an observer's Observe that panics: the function a stack trace of its
// panic must show.
//
//go:noinline
func panicInSink(x int) { panic(x) }

// TestForKeepsTheFirstPanicsStack: the first panic goes on with the stack it was raised on,
// the panicking func's frames included, as an unrecovered panic's trace or a recovering
// caller's debug.Stack shows it, not only from For: whoever debugs a panicking observer sees
// where it panicked. The later calls run all the same.
func TestForKeepsTheFirstPanicsStack(t *testing.T) {
	var ran []int
	var stack string
	got := func() (r any) {
		defer func() {
			r = recover()
			stack = string(debug.Stack())
		}()
		For([]int{1, 2, 3}, func(x int) {
			ran = append(ran, x)
			if x == 1 {
				panicInSink(x)
			}
		})
		return nil
	}()
	if got != 1 || !slices.Equal(ran, []int{1, 2, 3}) {
		t.Fatalf("For panicked with %v after running %v, want 1 after [1 2 3]", got, ran)
	}
	if !strings.Contains(stack, "runall.panicInSink") {
		t.Errorf("the stack the panic went on with does not show the func that panicked (runall.panicInSink):\n%s", stack)
	}
}

// TestForGoexit: a call that ends its goroutine (runtime.Goexit: an observer's t.FailNow, say)
// keeps none of the later calls from running, as a panic does not; the goroutine then ends.
func TestForGoexit(t *testing.T) {
	var ran []int
	done := make(chan struct{})
	go func() {
		defer close(done)
		For([]int{1, 2, 3}, func(x int) {
			ran = append(ran, x)
			if x == 1 {
				runtime.Goexit()
			}
		})
		ran = append(ran, -1) // not reached: the goroutine ends
	}()
	within.Recv(t, done, "the goroutine running For did not end")
	if !slices.Equal(ran, []int{1, 2, 3}) {
		t.Fatalf("ran %v, want [1 2 3] (every call, and the goroutine ended after them)", ran)
	}
}

// TestForGoexitWhileTheRestRuns: a later call that ends its goroutine (runtime.Goexit) while
// the first call's panic or Goexit goes on keeps none of the calls after it from running
// either; the goroutine then ends (Go drops a panic that a Goexit interrupts).
func TestForGoexitWhileTheRestRuns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func()
	}{
		{"after a panic", func() { panic(1) }},
		{"after a Goexit", runtime.Goexit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran []int
			done := make(chan struct{})
			go func() {
				defer close(done)
				For([]int{1, 2, 3, 4}, func(x int) {
					ran = append(ran, x)
					switch x {
					case 1:
						tc.first()
					case 2, 3:
						runtime.Goexit()
					}
				})
				ran = append(ran, -1) // not reached: the goroutine ends
			}()
			within.Recv(t, done, "the goroutine running For did not end")
			if !slices.Equal(ran, []int{1, 2, 3, 4}) {
				t.Fatalf("ran %v, want [1 2 3 4] (every call, and the goroutine ended after them)", ran)
			}
		})
	}
}
