package stub

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// TestLongDelaysDoNotWrapAround: delays that the flags accept add up (latency, spike, scripted
// delay) and are stretched by Capacity; past the longest time.Duration the sum wrapped around
// to a negative wait, and a request meant to hang for ever was answered at once.
func TestLongDelaysDoNotWrapAround(t *testing.T) {
	const long = 1_500_000 * time.Hour // 171 years: twice that is past the longest Duration
	for _, tt := range []struct {
		name   string
		faults Faults
		held   int      // requests already held when the one watched arrives
		md     []string // scripting metadata of the watched request
	}{
		{"latency and spike", Faults{Latency: long, SpikeRate: 1, Spike: long}, 0, nil},
		{"stretched by capacity", Faults{Latency: long, Capacity: 1}, 1, nil},
		{"latency and scripted delay", Faults{Latency: long}, 0, []string{MDDelay, long.String()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := clocktest.New(time.Time{})
			e := start(t, Config{Faults: tt.faults}, WithClock(fake))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var done []<-chan result
			for i := range tt.held {
				done = append(done, goExtract(e, ctx))
				blockUntil(t, fake, i+1)
			}
			watched := goExtract(e, withScript(ctx, tt.md...))
			done = append(done, watched)
			// The watched request either waits on the fake clock (a timer more) or, wrapped
			// around to a negative wait, is answered without one.
			for deadline := time.Now().Add(10 * time.Second); fake.Timers() < tt.held+1; time.Sleep(time.Millisecond) {
				select {
				case r := <-watched:
					t.Fatalf("answered at once (%v) instead of held for the delay", r.err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the request neither waited nor was answered")
				}
			}
			cancel()
			for _, ch := range done {
				<-ch
			}
		})
	}
}
