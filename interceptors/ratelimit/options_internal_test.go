package ratelimit

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// A CallOption is a grpc.CallOption: this line is the compile-level check.
var _ grpc.CallOption = CallOption{}

// TestOptionIsNotACallOption pins the other half of the option shape: a construction Option
// cannot be passed to a call (before, every Option was one, and all but WithMaxWait were
// silently ignored there).
func TestOptionIsNotACallOption(t *testing.T) {
	testkit.NotCallOptions(t, map[string]Option{
		"zero": {}, "WithClock": WithClock(nil), "WithObserver": WithObserver(nil), "WithRegistry": WithRegistry(nil),
	})
}

func TestCallMaxWait(t *testing.T) { testkit.MaxWaitOption(t, WithMaxWait, callMaxWait) }

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
