package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestMethodOverridesOverService pins the precedence the package doc promises: the method's
// overrides apply after the service's, so the method's win where both write a field, and the
// service's hold where the method writes nothing.
func TestMethodOverridesOverService(t *testing.T) {
	cfg, _, err := config.Parse("m.yaml", []byte(`
profiles:
  p:
    retry: {max_attempts: 3, per_attempt_timeout: 1s}
services:
  a.v1.S:
    profile: p
    retry: {max_attempts: 2, per_attempt_timeout: 500ms}
    methods:
      M:
        retry: {max_attempts: 4}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Resolve("/a.v1.S/M").Retry
	if m.MaxAttempts != 4 || m.PerAttemptTimeout != 500*time.Millisecond {
		t.Errorf("method M: max_attempts %d, per_attempt_timeout %v; want 4 (the method's) and 500ms (the service's)", m.MaxAttempts, m.PerAttemptTimeout)
	}
	if o := cfg.Resolve("/a.v1.S/Other").Retry; o.MaxAttempts != 2 {
		t.Errorf("method Other: max_attempts %d, want the service's 2", o.MaxAttempts)
	}
}

// TestParseBudget: a file without a budget keeps the built-in one in Config.Budget; a
// non-zero budget in the file replaces it.
func TestParseBudget(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want time.Duration
	}{
		{"profiles: {p: {}}\n", config.Builtin().Budget},
		{"budget: 5s\n", 5 * time.Second},
	} {
		cfg, _, err := config.Parse("b.yaml", []byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Budget != tt.want || tt.want == 0 {
			t.Errorf("%q: Budget %v, want %v", tt.yaml, cfg.Budget, tt.want)
		}
	}
}
