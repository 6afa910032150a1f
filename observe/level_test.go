package observe_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
)

// sloppySource yields its readings whatever yield answers: a source with a bug.
type sloppySource []observe.Level

func (s sloppySource) Levels(yield func(observe.Level) bool) {
	for _, l := range s {
		yield(l)
	}
}

type levelsFunc func(yield func(observe.Level) bool)

func (f levelsFunc) Levels(yield func(observe.Level) bool) { f(yield) }

// LevelSources reads its sources in turn, skipping nil ones, and stops at the first false
// from yield: it never calls yield again after that, even for a source that goes on yielding,
// so that ranging over it and breaking out is safe.
func TestLevelSourcesStopsAtFalse(t *testing.T) {
	a := observe.Level{Kind: observe.LevelInFlight, Service: "a"}
	b := observe.Level{Kind: observe.LevelCapacity, Service: "b"}
	c := observe.Level{Kind: observe.LevelBreakerState, Service: "c"}
	var got []string
	for l := range (observe.LevelSources{nil, sloppySource{a, b}, levelsFunc(func(yield func(observe.Level) bool) { yield(c) })}).Levels {
		got = append(got, l.Service)
	}
	if len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Fatalf("read %q, want a, b, c", got)
	}

	got = nil
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("breaking out of a range over LevelSources with a sloppy source: %v", p)
			}
		}()
		for l := range (observe.LevelSources{sloppySource{a, b}, sloppySource{c}}).Levels {
			got = append(got, l.Service)
			break
		}
	}()
	if len(got) != 1 || got[0] != "a" {
		t.Fatalf("read %q before the break, want a", got)
	}
}
