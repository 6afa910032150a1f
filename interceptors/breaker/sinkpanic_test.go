package breaker

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/observe"
)

// panicSink panics on every event while armed, as a sink with a bug does.
type panicSink struct{ armed atomic.Bool }

func (s *panicSink) Observe(observe.Event) {
	if s.armed.Load() {
		panic("sink")
	}
}

// The call that turns an open breaker half-open is its first probe: should the state change's
// event panic (the sink's bug), the probe's slot goes back as the panic goes on, and the next
// call is the probe. Were it lost, the breaker would stay half-open with a probe that never
// ends, and refuse every call from then on.
func TestProbeOfAPanickingStateChangeGoesBack(t *testing.T) {
	clk := clocktest.New(time.Time{})
	sink := &panicSink{}
	b, err := New(svc, Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Minute, HalfOpenMaxCalls: 1, SuccessThreshold: 1},
		WithClock(clk), WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	p.Done(errFail)
	clk.Advance(time.Minute)
	sink.armed.Store(true)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Allow did not panic with the sink")
			}
		}()
		_, _ = b.Allow()
	}()
	sink.armed.Store(false)
	if s := b.State(); s != HalfOpen {
		t.Fatalf("breaker %v after its turn to half-open, want half-open", s)
	}
	p, err = b.Allow()
	if err != nil {
		t.Fatalf("the next call was refused (%v): the panicked probe's slot was not given back", err)
	}
	p.Done(nil)
	if s := b.State(); s != Closed {
		t.Errorf("breaker %v after a probe that succeeded, want closed", s)
	}
}
