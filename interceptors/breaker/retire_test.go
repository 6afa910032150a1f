package breaker

import (
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
)

// retiredEvents returns the Retired events rec holds of instance.
func retiredEvents(rec *testkit.Recorder, instance uint32) []observe.Event {
	var got []observe.Event
	for _, e := range rec.Events(observe.Retired) {
		if e.Instance == instance {
			got = append(got, e)
		}
	}
	return got
}

// Retire sends the breaker's Retired to its own observer once, named as its events are, at
// the time given or at its last state change when that is later (the zero Time: its last
// change); later calls, and the registry's retiring of it, send nothing; a breaker without an
// observer sends nothing.
func TestRetireSendsOnceAtTheLaterOfAtAndLastChange(t *testing.T) {
	for _, tt := range []struct {
		name   string
		at     time.Duration // after pubStart; -1: the zero Time
		tripAt time.Duration // after pubStart; -1: no change
		want   time.Duration // after pubStart; -1: the zero Time
	}{
		{name: "given time, no change", at: 5 * time.Second, tripAt: -1, want: 5 * time.Second},
		{name: "given time after the change", at: 5 * time.Second, tripAt: 2 * time.Second, want: 5 * time.Second},
		{name: "change after the given time", at: time.Second, tripAt: 3 * time.Second, want: 3 * time.Second},
		{name: "zero time: the last change", at: -1, tripAt: 2 * time.Second, want: 2 * time.Second},
		{name: "zero time, no change", at: -1, tripAt: -1, want: -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(pubStart)
			rec := new(testkit.Recorder)
			reg := NewRegistry(WithClock(clk))
			b, err := reg.Get("/kyc.v1.OCRService/Extract", Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}, WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			if tt.tripAt >= 0 {
				clk.Set(pubStart.Add(tt.tripAt))
				_ = b.Execute(func() error { return errFail })
			}
			clk.Set(pubStart.Add(10 * time.Second))
			var at, wantAt time.Time
			if tt.at >= 0 {
				at = pubStart.Add(tt.at)
			}
			if tt.want >= 0 {
				wantAt = pubStart.Add(tt.want)
			}
			b.Retire(at)
			b.Retire(pubStart.Add(time.Minute))
			reg.Delete(b.Name())
			got := retiredEvents(rec, b.Instance())
			wantEv := observe.Event{Kind: observe.Retired, Instance: b.Instance(), Time: wantAt,
				Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract", Policy: observe.PolicyBreaker}
			if len(got) != 1 || got[0] != wantEv {
				t.Fatalf("Retired events after Retire, Retire and Delete: %+v, want %+v alone", got, wantEv)
			}
		})
	}
	b, err := New(svc, Config{ConsecutiveFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.Retire(pubStart) // no observer: nothing to send to, nothing panics
}

// A breaker the registry forgets (Delete) or replaces (Get of other settings) while its last
// suite retires it (Retire) is retired by whichever comes first, once: its observer gets one
// Retired, whatever the order the race takes.
func TestRetireRacingTheRegistrySendsOne(t *testing.T) {
	clk := clocktest.New(pubStart)
	rec := new(testkit.Recorder)
	reg := NewRegistry(WithClock(clk))
	const rounds = 50
	for i := range rounds {
		b, err := reg.Get(svc, Config{ConsecutiveFailures: 1 + i%2}, WithObserver(rec))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, f := range []func(){
			func() { b.Retire(clk.Now()) },
			func() { b.Retire(time.Time{}) },
			func() { reg.Delete(svc) },
			func() { _, _ = reg.Get(svc, Config{ConsecutiveFailures: 5}, WithObserver(rec)) },
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f()
			}()
		}
		close(start)
		within.Wait(t, &wg, "the Retire, Delete and Get calls racing did not return")
		if got := retiredEvents(rec, b.Instance()); len(got) != 1 {
			t.Fatalf("round %d: the breaker retired by its suite and its registry at once sent %d Retired, want 1: %+v", i, len(got), got)
		}
		reg.Delete(svc)
	}
}
