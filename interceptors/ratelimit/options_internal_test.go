package ratelimit

import (
	"testing"
	"time"

	"google.golang.org/grpc"
)

// A CallOption is a grpc.CallOption: this line is the compile-level check.
var _ grpc.CallOption = CallOption{}

// TestOptionIsNotACallOption pins the other half of the option shape: a construction Option
// cannot be passed to a call (before, every Option was one, and all but WithMaxWait were
// silently ignored there).
func TestOptionIsNotACallOption(t *testing.T) {
	for name, o := range map[string]Option{
		"zero": {}, "WithClock": WithClock(nil), "WithObserver": WithObserver(nil), "WithRegistry": WithRegistry(nil),
	} {
		if _, ok := any(o).(grpc.CallOption); ok {
			t.Errorf("%s: an Option is a grpc.CallOption", name)
		}
	}
}

func TestCallMaxWait(t *testing.T) {
	const def = 50 * time.Millisecond
	tests := []struct {
		name string
		opts []grpc.CallOption
		want time.Duration
	}{
		{name: "none: Config.MaxWait", want: def},
		{name: "other options", opts: []grpc.CallOption{grpc.WaitForReady(true)}, want: def},
		{name: "the zero CallOption does nothing", opts: []grpc.CallOption{CallOption{}}, want: def},
		{name: "the last wins", opts: []grpc.CallOption{WithMaxWait(time.Second), grpc.WaitForReady(true), WithMaxWait(2 * time.Second)}, want: 2 * time.Second},
		{name: "negative: answer at once", opts: []grpc.CallOption{WithMaxWait(-time.Second)}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callMaxWait(def, tt.opts); got != tt.want {
				t.Fatalf("callMaxWait = %v, want %v", got, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { callMaxWait(def, tt.opts) }); n != 0 {
				t.Fatalf("callMaxWait: %v allocs, want 0", n)
			}
		})
	}
}

func TestPackageInterceptorsReturnNewsError(t *testing.T) {
	bad := Config{Rate: -1}
	_, want := New("svc", nil, bad)
	if want == nil {
		t.Fatal("New accepted a negative rate")
	}
	if ic, err := UnaryClientInterceptor("svc", nil, bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("UnaryClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if ic, err := StreamClientInterceptor("svc", nil, bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("StreamClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
}
