package throttle

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A CallOption is a grpc.CallOption: this line is the compile-level check.
var _ grpc.CallOption = CallOption{}

// TestOptionIsNotACallOption pins the other half of the option shape: a construction Option
// cannot be passed to a call.
func TestOptionIsNotACallOption(t *testing.T) {
	testkit.NotCallOptions(t, map[string]Option{
		"zero": {}, "WithClock": WithClock(nil), "WithObserver": WithObserver(nil),
		"WithClassifier": WithClassifier(nil), "WithRand": WithRand(nil),
	})
}

func TestCallSettingsAllocatesNothing(t *testing.T) {
	def := codes.Default()
	other, err := def.With(codes.Overrides{Reasons: map[string]codes.Class{"X": codes.Transient}})
	if err != nil {
		t.Fatal(err)
	}
	none := []grpc.CallOption{grpc.WaitForReady(true)}
	with := []grpc.CallOption{Disable(), grpc.WaitForReady(true), WithCallClassifier(other), CallOption{}}
	if d, c := callSettings(def, none); d || c != def {
		t.Errorf("without a CallOption: disabled %v, classifier %p; want false, %p", d, c, def)
	}
	if d, c := callSettings(def, with); !d || c != other {
		t.Errorf("with Disable and WithCallClassifier: disabled %v, classifier %p; want true, %p", d, c, other)
	}
	for name, opts := range map[string][]grpc.CallOption{"absent": none, "present": with} {
		if n := testing.AllocsPerRun(100, func() { callSettings(def, opts) }); n != 0 {
			t.Errorf("callSettings, CallOptions %s: %v allocs, want 0", name, n)
		}
	}
}

func TestPackageInterceptors(t *testing.T) {
	bad := Config{K: 0.5}
	_, want := New("svc", bad)
	if ic, err := UnaryClientInterceptor("svc", bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("UnaryClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if ic, err := StreamClientInterceptor("svc", bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("StreamClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	// Valid: the interceptor throttles with a throttle of its own (here: rejects every call
	// once the window holds only failures and the draw is 0).
	ic, err := UnaryClientInterceptor("svc", Config{MinRequests: 1}, WithRand(func() float64 { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		calls++
		return status.Error(grpccodes.Unavailable, "down")
	}
	for range 5 {
		_ = ic(context.Background(), "/svc/M", nil, nil, nil, fail)
	}
	if calls >= 5 {
		t.Errorf("the invoker ran %d times of 5 against a failing service; want rejections", calls)
	}
	if _, err := StreamClientInterceptor("svc", Config{}); err != nil {
		t.Errorf("StreamClientInterceptor(valid): %v", err)
	}
}
