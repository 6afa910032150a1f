package bulkhead_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Fast business errors (an image the server refuses in a millisecond, before the GPU runs) are
// no samples. Counted, with 60% of the calls refused so, they grew the limit (AIMD) and held
// the gradient's baseline at their latency, and both limits went to the ceiling, 100, while
// the calls doing the work ran at six times the service's knee: the limit settles near the
// knee, as it does without them (TestAdaptiveSettlesNearKnee).
func TestFastBusinessErrorsAreNoSamples(t *testing.T) {
	const base, knee, clients, calls = 20 * time.Millisecond, 16, 150, 4000
	for _, ac := range adaptiveCases(base) {
		t.Run(ac.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1000, 0))
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 100, Adaptive: ac.cfg}, bulkhead.WithClock(clk))
			dep := service{knee: knee, base: base}
			refused := status.Error(grpccodes.InvalidArgument, "unreadable image")
			rng := rand.New(rand.NewPCG(54, 1))
			type call struct {
				end, took time.Duration
				refused   bool
			}
			var (
				origin  = clk.Now()
				now     time.Duration
				running []call
				idle    = clients
				lo, hi  = 100, 0
			)
			// The closed loop of simulate, with 60% of the calls refused in 1ms whatever the
			// load, and the others taking the service's latency.
			for i := range calls {
				for idle > 0 && b.TryAcquire() {
					idle--
					c := call{took: dep.latency(b.InFlight())}
					if rng.Float64() < 0.6 {
						c = call{took: time.Millisecond, refused: true}
					}
					c.end = now + c.took
					running = append(running, c)
				}
				first := 0
				for j, c := range running {
					if c.end < running[first].end {
						first = j
					}
				}
				c := running[first]
				running = append(running[:first], running[first+1:]...)
				now = c.end
				clk.Set(origin.Add(now))
				var err error
				if c.refused {
					err = refused
				}
				b.ReleaseWith(c.took, err)
				idle++
				if i >= calls/2 {
					lo, hi = min(lo, b.Capacity()), max(hi, b.Capacity())
				}
			}
			for range running {
				b.Release()
			}
			if lo < knee/2 || hi > 2*knee {
				t.Errorf("second half of the run: limit in [%d, %d], want within [%d, %d]", lo, hi, knee/2, 2*knee)
			}
		})
	}
}
