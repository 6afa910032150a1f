package bulkhead

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A CallOption is a grpc.CallOption: this line is the compile-level check.
var _ grpc.CallOption = CallOption{}

// TestOptionIsNotACallOption pins the other half of the option shape: a construction Option
// cannot be passed to a call (before, every Option was one, and all but WithMaxWait were
// silently ignored there).
func TestOptionIsNotACallOption(t *testing.T) {
	for name, o := range map[string]Option{
		"zero": {}, "WithClock": WithClock(nil), "WithObserver": WithObserver(nil), "WithClassifier": WithClassifier(nil),
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
		{name: "negative: fail fast", opts: []grpc.CallOption{WithMaxWait(-time.Second)}, want: 0},
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

func TestPackageInterceptors(t *testing.T) {
	bad := Config{MaxConcurrent: -1}
	_, want := New("svc", bad)
	if ic, err := UnaryClientInterceptor("svc", bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("UnaryClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if ic, err := StreamClientInterceptor("svc", bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("StreamClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if _, err := StreamClientInterceptor("svc", Config{MaxConcurrent: 1}); err != nil {
		t.Errorf("StreamClientInterceptor(valid): %v", err)
	}
	// Valid: the interceptor runs calls inside a bulkhead of its own, of one slot here: a call
	// made from inside another finds it full.
	ic, err := UnaryClientInterceptor("svc", Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	var inner error
	outer := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, _ ...grpc.CallOption) error {
		inner = ic(ctx, method, req, reply, cc, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return nil
		})
		return nil
	}
	if err := ic(context.Background(), "/svc/M", nil, nil, nil, outer); err != nil {
		t.Fatal(err)
	}
	if status.Code(inner) != grpccodes.ResourceExhausted {
		t.Errorf("a second call while the only slot is held: %v, want ResourceExhausted", inner)
	}
}
