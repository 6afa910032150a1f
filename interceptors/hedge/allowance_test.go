package hedge

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Under concurrent calls the allowance pays no more hedges than HedgeBurst plus MaxHedgeShare
// of the calls, and stays within [0, HedgeBurst].
func TestAllowanceUnderConcurrency(t *testing.T) {
	var a allowance
	a.milli.Store(burstMilli)
	const goroutines, calls = 8, 2000
	var paid atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range calls {
				a.deposit()
				if a.take() {
					paid.Add(1)
				}
				if v := a.milli.Load(); v < 0 || v > burstMilli {
					t.Errorf("allowance %d milli-hedges, outside [0, %d]", v, burstMilli)
					return
				}
			}
		})
	}
	wg.Wait()
	if limit := int64(HedgeBurst + MaxHedgeShare*goroutines*calls); paid.Load() > limit {
		t.Fatalf("%d hedges paid for %d calls, want at most %d", paid.Load(), goroutines*calls, limit)
	}
}
