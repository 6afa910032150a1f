package deadline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestNewRefusesTypedNilOptions: a clock or an observer variable left unset (a nil pointer in
// the interface) was accepted by New, and the first call that set a deadline panicked on it;
// New now refuses it with an error naming the option, the type and the rule. nil itself is
// still the default.
func TestNewRefusesTypedNilOptions(t *testing.T) {
	var rec *testkit.Recorder
	var clk *clocktest.Fake
	cfg := deadline.Config{Default: time.Second}
	for _, tt := range []struct {
		name string
		opt  deadline.Option
		want string
	}{
		{"observer", deadline.WithObserver(rec), "WithObserver: a nil *testkit.Recorder is a typed nil, which panics at the first event; pass nil for no observer"},
		{"clock", deadline.WithClock(clk), "WithClock: a nil *clocktest.Fake is a typed nil, which panics at the first call; pass nil for the real clock"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := deadline.New(cfg, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error %q", err, tt.want)
			}
			if _, err := deadline.UnaryClientInterceptor(cfg, tt.opt); err == nil {
				t.Fatal("UnaryClientInterceptor accepted the typed nil")
			}
		})
	}
	if _, err := deadline.New(cfg, deadline.WithObserver(nil), deadline.WithClock(nil)); err != nil {
		t.Fatalf("New with nil options = %v, want the defaults", err)
	}
}
