package interceptors_test

import (
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
)

// The per-attempt policies run flat in a suite's chain (section.UnaryStep), in rank order,
// so that a call does not pass through an interceptor closure for each of them.
func TestPerAttemptStepsRunFlat(t *testing.T) {
	cfg := suitecfg.Full()
	p := cfg.Profiles["bench"]
	p.AdaptiveThrottle = &throttle.Config{K: 2, Window: time.Minute}
	cfg.Profiles["bench"] = p
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(new(breaker.Registry)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	got := interceptors.FlatSteps(s, "/"+svcFaceMatch+"/Compare")
	want := []string{"*breaker.Breaker", "*throttle.Throttle", "*ratelimit.Policy", "*bulkhead.Bulkhead"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("flat steps %v, want %s among them", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("flat steps %v, want the %d per-attempt policies", got, len(want))
	}
}
