package bulkhead_test

import (
	"container/heap"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A service that fails fast (a broken or overloaded GPU service answering in 1ms) neither
// raises the limit above what the healthy service earned nor keeps it from coming back once
// the service recovers. A transient failure (Unavailable) faster than a healthy answer is no
// sample, nor is a server fault (Internal). Counted as answers, 1ms server faults
// looked like a service without a queue: during 30s of them both algorithms took the limit
// from about 25 to the ceiling, 100, and kept it above 75 through 30s of 20% of them, so
// that the recovered service met about six times its knee at once.
func TestFastFaultsRaiseNoLimit(t *testing.T) {
	const base, knee, clients, ceiling = 50 * time.Millisecond, 16, 150, 100
	phases := []struct {
		name  string
		took  time.Duration // how long the phase runs
		fault float64       // the share of the calls failing in 1ms
	}{
		{"healthy", 30 * time.Second, 0},
		{"all fail", 30 * time.Second, 1},
		{"20% fail", 30 * time.Second, 0.2},
		{"recovered", 60 * time.Second, 0},
	}
	for _, code := range []grpccodes.Code{grpccodes.Unavailable, grpccodes.Internal} {
		for _, ac := range adaptiveCases(base) {
			t.Run(code.String()+"/"+ac.name, func(t *testing.T) {
				clk := clocktest.New(time.Unix(1000, 0))
				b := newAdaptive(t, bulkhead.Config{MaxConcurrent: ceiling, Adaptive: ac.cfg}, bulkhead.WithClock(clk))
				dep := service{knee: knee, base: base}
				fault := status.Error(code, "gpu failed")
				rng := rand.New(rand.NewPCG(55, uint64(code)))
				var (
					origin  = clk.Now()
					now     time.Duration
					running = &callHeap{}
					idle    = clients
					end     time.Duration
					healthy int // the highest limit of the healthy phase
				)
				// The closed loop of simulate, in phases of simulated time: a client starts a
				// call as soon as TryAcquire lets it, which fails in 1ms with the phase's
				// share, else takes the service's latency.
				for i, ph := range phases {
					end += ph.took
					lo, hi := ceiling, 0
					for now < end {
						for idle > 0 && b.TryAcquire() {
							idle--
							c := timedCall{took: dep.latency(b.InFlight())}
							if rng.Float64() < ph.fault {
								c = timedCall{took: time.Millisecond, err: fault}
							}
							c.end = now + c.took
							heap.Push(running, c)
						}
						c := heap.Pop(running).(timedCall)
						now = c.end
						clk.Set(origin.Add(now))
						b.ReleaseWith(c.took, c.err)
						idle++
						lo, hi = min(lo, b.Capacity()), max(hi, b.Capacity())
					}
					last := b.Capacity()
					t.Logf("%-9s limit in [%d, %d], %d at the end", ph.name, lo, hi, last)
					switch {
					case i == 0:
						if last < knee/2 || last > 2*knee {
							t.Fatalf("healthy: limit %d at the end, want near the knee %d", last, knee)
						}
						healthy = hi
					case ph.fault > 0:
						if hi > healthy {
							t.Errorf("%s: the limit rose to %d, above the healthy service's %d", ph.name, hi, healthy)
						}
					default:
						if last < knee/2 || last > 2*knee {
							t.Errorf("%s: limit %d at the end, want it back near the knee %d", ph.name, last, knee)
						}
					}
				}
				for running.Len() > 0 {
					heap.Pop(running)
					b.Release()
				}
			})
		}
	}
}

// timedCall is a call in flight in TestFastFaultsRaiseNoLimit: when it ends, after how long,
// and with what.
type timedCall struct {
	end, took time.Duration
	err       error
}

// callHeap is the calls in flight, the first to end on top.
type callHeap []timedCall

func (h callHeap) Len() int           { return len(h) }
func (h callHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h callHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *callHeap) Push(x any)        { *h = append(*h, x.(timedCall)) }
func (h *callHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
