package observe_test

import (
	"fmt"
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
)

// A LevelKind prints as its name, so that a failing test says which reading it meant; a value
// that is no kind prints its number.
func TestLevelKindString(t *testing.T) {
	for k, want := range map[observe.LevelKind]string{
		observe.LevelBreakerState:        "breaker_state",
		observe.LevelInFlight:            "in_flight",
		observe.LevelCapacity:            "capacity",
		observe.LevelThrottleProbability: "throttle_probability",
		observe.LevelCapacityFloor:       "capacity_floor",
		observe.LevelCapacityCeiling:     "capacity_ceiling",
		0:                                "LevelKind(0)",
		200:                              "LevelKind(200)",
	} {
		if got := fmt.Sprint(k); got != want {
			t.Errorf("LevelKind %d prints %q, want %q", uint8(k), got, want)
		}
	}
}
