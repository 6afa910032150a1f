package breaker

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// A breaker New builds under a full method's name names the same service and method in its
// events as in its Levels (service "pkg.S", method "/pkg.S/M"), so that promobs labels its
// state, transitions and rejections as one breaker's: its events named the service
// "/pkg.S/M" and no method.
func TestFullMethodNameLabelsEventsAsLevels(t *testing.T) {
	clk := clocktest.New(time.Time{})
	rec := new(testkit.Recorder)
	const name = "/kyc.v1.OCRService/Extract"
	b, err := New(name, Config{ConsecutiveFailures: 1}, WithClock(clk), WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	trip(t, b, clk)
	if _, err := b.Allow(); err == nil {
		t.Fatal("open breaker admitted a call")
	}
	var lv observe.Level
	b.Levels(func(l observe.Level) bool { lv = l; return false })
	if lv.Service != "kyc.v1.OCRService" || lv.Method != name {
		t.Fatalf("level names %q %q", lv.Service, lv.Method)
	}
	for _, kind := range []observe.Kind{observe.BreakerStateChanged, observe.Rejected} {
		evs := rec.Events(kind)
		if len(evs) == 0 {
			t.Fatalf("no %v event", kind)
		}
		for _, e := range evs {
			if e.Service != lv.Service || e.Method != lv.Method {
				t.Errorf("%v event names %q %q, its level %q %q", kind, e.Service, e.Method, lv.Service, lv.Method)
			}
		}
	}
}
