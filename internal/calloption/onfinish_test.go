package calloption

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// finishes records the grpc.OnFinish callbacks' calls, as "name:err".
type finishes []string

func (f *finishes) opt(name string) grpc.CallOption {
	return grpc.OnFinish(func(err error) { *f = append(*f, fmt.Sprintf("%s:%v", name, err)) })
}

func TestWithoutOnFinishKeepsTheOthersInOrder(t *testing.T) {
	var f finishes
	a, b := grpc.MaxCallSendMsgSize(2), grpc.MaxCallRecvMsgSize(1)
	dst := []grpc.CallOption{grpc.WaitForReady(true)}
	got := WithoutOnFinish(dst, []grpc.CallOption{f.opt("1"), a, f.opt("2"), b})
	if len(got) != 3 || got[1] != a || got[2] != b {
		t.Fatalf("WithoutOnFinish = %v, want dst's option then the two others in order", got)
	}
	for _, o := range got {
		if _, ok := o.(grpc.OnFinishCallOption); ok {
			t.Fatalf("WithoutOnFinish kept an OnFinish: %v", got)
		}
	}
}

func TestOnFinishCallsEachInOrder(t *testing.T) {
	var f finishes
	boom := errors.New("boom")
	OnFinish([]grpc.CallOption{f.opt("1"), option{}, grpc.OnFinishCallOption{}, f.opt("2")}, boom)
	if want := []string{"1:boom", "2:boom"}; !slices.Equal(f, want) {
		t.Fatalf("OnFinish ran %q, want %q", f, want)
	}
}

func TestAdmit(t *testing.T) {
	var f finishes
	opts := []grpc.CallOption{f.opt("1"), f.opt("2")}
	if err := Admit(opts, func() error { return nil }); err != nil || len(f) != 0 {
		t.Fatalf("admitted: Admit = %v and OnFinish ran %q, want nil and none", err, f)
	}
	full := errors.New("full")
	if err := Admit(opts, func() error { return full }); err != full {
		t.Fatalf("refused: Admit = %v, want %v", err, full)
	}
	if want := []string{"1:full", "2:full"}; !slices.Equal(f, want) {
		t.Fatalf("refused: OnFinish ran %q, want %q", f, want)
	}
	f = nil
	func() {
		defer func() {
			if r := recover(); r != "observer" {
				t.Errorf("recovered %v, want the admit's panic", r)
			}
		}()
		_ = Admit(opts, func() error { panic("observer") })
	}()
	if want := []string{"1:" + ErrPanicked.Error(), "2:" + ErrPanicked.Error()}; !slices.Equal(f, want) {
		t.Fatalf("panicked: OnFinish ran %q, want %q", f, want)
	}
}

type panicSink struct{ panics bool }

func (s panicSink) Observe(observe.Event) {
	if s.panics {
		panic("sink")
	}
}

func TestObserve(t *testing.T) {
	var f finishes
	opts := []grpc.CallOption{f.opt("1")}
	Observe(opts, panicSink{}, observe.Event{})
	if len(f) != 0 {
		t.Fatalf("a sink that did not panic: OnFinish ran %q, want none", f)
	}
	func() {
		defer func() {
			if r := recover(); r != "sink" {
				t.Errorf("recovered %v, want the sink's panic", r)
			}
		}()
		Observe(opts, panicSink{panics: true}, observe.Event{})
	}()
	if want := []string{"1:" + ErrPanicked.Error()}; !slices.Equal(f, want) {
		t.Fatalf("a sink that panicked: OnFinish ran %q, want %q", f, want)
	}
}
