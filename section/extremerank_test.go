package section_test

import (
	"math"
	"testing"

	"github.com/bulwarkrpc/bulwark/section"
)

type extremeConfig struct {
	Size int `yaml:"size"`
}

func init() {
	section.Register(section.Spec[extremeConfig]{Key: "outermosttoy", Rank: math.MinInt})
}

// TestExtremeRanksKeepTheirOrder: a custom section at the low end of Rank's range sorts
// first, outermost; comparing ranks by subtraction overflowed and put it after the inner ones.
func TestExtremeRanksKeepTheirOrder(t *testing.T) {
	all, _ := section.All()
	for i := 1; i < len(all); i++ {
		if all[i-1].Rank() >= all[i].Rank() {
			t.Fatalf("%s (rank %d) is before %s (rank %d)", all[i-1].Key(), all[i-1].Rank(), all[i].Key(), all[i].Rank())
		}
	}
	if all[0].Key() != "outermosttoy" {
		t.Fatalf("sections begin with %s, want outermosttoy", all[0].Key())
	}
}
