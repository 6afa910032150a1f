package breaker

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// A CallOption is a grpc.CallOption: this line is the compile-level check.
var _ grpc.CallOption = CallOption{}

// TestOptionIsNotACallOption pins the other half of the option shape: a construction Option
// cannot be passed to a call (grpc.Invoke(..., breaker.WithClock(c)) does not compile).
func TestOptionIsNotACallOption(t *testing.T) {
	testkit.NotCallOptions(t, map[string]Option{
		"zero": {}, "WithClock": WithClock(nil), "WithObserver": WithObserver(nil),
		"WithClassifier": WithClassifier(nil), "WithService": WithService("s"), "WithRegistry": WithRegistry(nil),
	})
}

func TestCallClassifier(t *testing.T) {
	def := codes.Default()
	other, err := def.With(codes.Overrides{Reasons: map[string]codes.Class{"X": codes.Transient}})
	if err != nil {
		t.Fatal(err)
	}
	none := []grpc.CallOption{grpc.WaitForReady(true)}
	with := []grpc.CallOption{WithCallClassifier(other), grpc.WaitForReady(true), CallOption{}, WithCallClassifier(nil)}
	if got := callClassifier(def, none); got != def {
		t.Errorf("without a CallOption: %p, want the breaker's %p", got, def)
	}
	if got := callClassifier(def, with); got != other {
		t.Errorf("with WithCallClassifier (then the zero CallOption and nil): %p, want %p", got, other)
	}
	for name, opts := range map[string][]grpc.CallOption{"absent": none, "present": with} {
		if n := testing.AllocsPerRun(100, func() { callClassifier(def, opts) }); n != 0 {
			t.Errorf("callClassifier, CallOption %s: %v allocs, want 0", name, n)
		}
	}
}
