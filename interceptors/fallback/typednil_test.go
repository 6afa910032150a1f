package fallback_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestNewRefusesTypedNilOptions: a clock or an observer variable left unset (a nil pointer in
// the interface) was accepted by New, and the first reply served panicked on it, in place of
// the degraded answer the fallback exists for; New now refuses it with an error naming the
// option, the type and the rule. nil itself is still the default.
func TestNewRefusesTypedNilOptions(t *testing.T) {
	var rec *testkit.Recorder
	var clk *clocktest.Fake
	reply := fallback.Message(degraded)
	for _, tt := range []struct {
		name string
		opt  fallback.Option
		want string
	}{
		{"observer", fallback.WithObserver(rec), "WithObserver: a nil *testkit.Recorder is a typed nil, which panics at the first event; pass nil for no observer"},
		{"clock", fallback.WithClock(clk), "WithClock: a nil *clocktest.Fake is a typed nil, which panics at the first call; pass nil for the real clock"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fallback.New(testkit.MethodCompare, fallback.Config{}, reply, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error %q", err, tt.want)
			}
			if _, err := fallback.StreamClientInterceptor(testkit.MethodCompare, fallback.Config{}, reply, tt.opt); err == nil {
				t.Fatal("StreamClientInterceptor accepted the typed nil")
			}
		})
	}
	if _, err := fallback.New(testkit.MethodCompare, fallback.Config{}, reply,
		fallback.WithObserver(nil), fallback.WithClock(nil), fallback.WithClassifier(nil)); err != nil {
		t.Fatalf("New with nil options = %v, want the defaults", err)
	}
}
