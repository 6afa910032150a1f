package breaker

import (
	"testing"
	"time"
)

// TestWindowBoundsRefused: a window larger than the breaker keeps (10000 outcomes, or an hour)
// is refused naming the field, the value and the bound; the bound itself is accepted.
func TestWindowBoundsRefused(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "": valid
	}{
		{name: "count window at the bound", cfg: Config{FailureRateThreshold: 0.5, WindowSize: 10000}},
		{name: "count window over the bound", cfg: Config{FailureRateThreshold: 0.5, WindowSize: 10001, MinimumCalls: 10},
			wantErr: "window_size: 10001 is above 10000"},
		{name: "time window at the bound", cfg: Config{FailureRateThreshold: 0.5, WindowType: WindowTime, WindowDuration: time.Hour}},
		{name: "time window over the bound", cfg: Config{FailureRateThreshold: 0.5, WindowType: WindowTime, WindowDuration: time.Hour + time.Second},
			wantErr: "window_duration: 1h0m1s is above 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
