package breaker

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// TestNewRegistryClock: the breakers of a registry made with WithClock run on that clock, also
// when Get's options (as a suite's build does) name another; a registry without one leaves
// Get's clock.
func TestNewRegistryClock(t *testing.T) {
	cfg := Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}
	fake := clocktest.New(time.Time{})
	tests := []struct {
		name      string
		reg       *Registry
		wantState State // after one failure and an hour on fake
	}{
		{name: "registry clock wins over Get's", reg: NewRegistry(WithClock(fake)), wantState: HalfOpen},
		{name: "no registry clock: Get's", reg: NewRegistry(), wantState: Open},
		{name: "zero registry: Get's", reg: new(Registry), wantState: Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.reg.Get(svc, cfg, WithClock(clock.Real))
			if err != nil {
				t.Fatal(err)
			}
			_ = b.Execute(func() error { return errFail })
			if s := b.State(); s != Open {
				t.Fatalf("state after a failure = %v, want %v", s, Open)
			}
			fake.Advance(cfg.RecoveryTimeout)
			if s := b.State(); s != tt.wantState {
				t.Fatalf("state after %v on the registry's clock = %v, want %v", cfg.RecoveryTimeout, s, tt.wantState)
			}
		})
	}
}
