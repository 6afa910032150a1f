package deadline_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestOptionIsNotACallOption pins the option shape: a construction Option cannot be passed to
// a call (the deadline policy has no CallOption).
func TestOptionIsNotACallOption(t *testing.T) {
	testkit.NotCallOptions(t, map[string]deadline.Option{
		"zero": {}, "WithClock": deadline.WithClock(nil), "WithObserver": deadline.WithObserver(nil),
	})
}

func TestPackageInterceptorsReturnNewsError(t *testing.T) {
	bad := deadline.Config{Default: -time.Second}
	_, want := deadline.New(bad)
	if want == nil {
		t.Fatal("New accepted a negative default")
	}
	if ic, err := deadline.UnaryClientInterceptor(bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("UnaryClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if ic, err := deadline.StreamClientInterceptor(bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("StreamClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if ic, err := deadline.UnaryClientInterceptor(deadline.Config{Default: time.Second}); ic == nil || err != nil {
		t.Errorf("UnaryClientInterceptor(valid) = %v, %v", ic != nil, err)
	}
}
