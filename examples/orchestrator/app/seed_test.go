package app

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
)

// Every embedded stub of every run draws its faults from a seed of its own: runs of
// different seeds (the tail report's seeds 1, 2 and 3) are independent.
func TestStubSeedsDoNotOverlap(t *testing.T) {
	owner := map[int64][2]int64{}
	for seed := int64(-50); seed <= 50; seed++ {
		for i := range stub.AllServices() {
			s := stubSeed(seed, i)
			if o, ok := owner[s]; ok {
				t.Fatalf("stub %d of seed %d and stub %d of seed %d both have seed %d", i, seed, o[1], o[0], s)
			}
			owner[s] = [2]int64{seed, int64(i)}
		}
	}
}
