package breaker

import (
	"testing"
	"time"
)

// TestHalfOpenMaxWaitKeepsAProbeItCountsAsFast: Validate lets HalfOpenMaxWait equal
// SlowCallDuration (and Normalize makes it so when SlowCallDuration is over 1m), promising
// that the breaker never gives up on a probe it would count as fast. A probe that takes exactly
// SlowCallDuration is not slow, so its success closes the breaker. Before the fix the breaker
// gave up on it at that very moment: it reopened (half_open_max_wait) and dropped the success.
func TestHalfOpenMaxWaitKeepsAProbeItCountsAsFast(t *testing.T) {
	for _, cfg := range []Config{
		{SlowCallDuration: 2 * time.Minute}, // HalfOpenMaxWait defaults to 2m.
		{SlowCallDuration: 5 * time.Second, HalfOpenMaxWait: 5 * time.Second},
	} {
		b, clk, rec := newTest(t, cfg)
		halfOpen(t, b, clk)
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("%+v: probe refused: %v", cfg, err)
		}
		clk.Advance(cfg.SlowCallDuration) // As fast as a probe may be.
		p.Done(nil)
		st := b.Stats()
		if st.State != Closed || st.Dropped != 0 {
			ev := lastChange(rec)
			t.Fatalf("%+v: after a probe of exactly slow_call_duration: state %v, %d dropped, last change %s→%s (%s); want closed, none dropped",
				cfg, st.State, st.Dropped, ev.From, ev.To, ev.Reason)
		}
		if ev := lastChange(rec); ev.To != "closed" || ev.Reason != ReasonProbesSucceeded {
			t.Fatalf("%+v: last change %+v, want →closed (%s)", cfg, ev, ReasonProbesSucceeded)
		}
	}
}
