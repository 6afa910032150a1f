package fallback_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestOptionIsNotACallOption pins the option shape: a construction Option cannot be passed to
// a call (the fallback has no CallOption).
func TestOptionIsNotACallOption(t *testing.T) {
	testkit.NotCallOptions(t, map[string]fallback.Option{
		"zero": {}, "WithClock": fallback.WithClock(nil), "WithObserver": fallback.WithObserver(nil),
		"WithClassifier": fallback.WithClassifier(nil),
	})
}

func TestPackageInterceptorsReturnNewsError(t *testing.T) {
	_, want := fallback.New("not a method", fallback.Config{}, nil)
	if want == nil {
		t.Fatal("New accepted a bad name")
	}
	if ic, err := fallback.UnaryClientInterceptor("not a method", fallback.Config{}, nil); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("UnaryClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if ic, err := fallback.StreamClientInterceptor("not a method", fallback.Config{}, nil); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("StreamClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
}
