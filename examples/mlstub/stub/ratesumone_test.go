package stub

import (
	"context"
	"math/rand/v2"
	"testing"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// topSource makes every draw the largest Float64 below 1, 1 - 2⁻⁵³.
type topSource struct{}

func (topSource) Uint64() uint64 { return ^uint64(0) }

// Regression: rates that add up to 1 promise that every request fails, but their running sum
// in code order can round to just under 1 (aborted 0.7 + internal 0.2 + unavailable 0.1 is
// 1 - 2⁻⁵³), and the highest draw of the generator, 1 - 2⁻⁵³, then fell past the last code:
// the request succeeded.
func TestRatesAddingUpToOneFailTheHighestDraw(t *testing.T) {
	e := start(t, Config{Faults: Faults{Fail: map[grpccodes.Code]float64{
		grpccodes.Aborted: 0.7, grpccodes.Internal: 0.2, grpccodes.Unavailable: 0.1,
	}}})
	e.s.mu.Lock()
	e.s.rng = rand.New(topSource{})
	e.s.mu.Unlock()
	if got := status.Code(e.extract(context.Background())); got != grpccodes.Unavailable {
		t.Errorf("a draw of 1 - 2⁻⁵³ against rates adding up to 1: %v, want Unavailable (the last code)", got)
	}
}
