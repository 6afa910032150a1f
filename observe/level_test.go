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

// closer is a source that can end: it reads its level until closed.
type closer struct {
	l      observe.Level
	closed bool
}

func (c *closer) Levels(yield func(observe.Level) bool) {
	if !c.closed {
		yield(c.l)
	}
}

func (c *closer) Closed() bool { return c.closed }

// A LevelSources is closed (observe.ClosedSource) once each of its parts that is not nil is a
// ClosedSource that reports closed, nested LevelSources too; Open is what it reads that may
// still read something. Before, a LevelSources of closed suites was never closed, so promobs'
// Scrape kept it, and the suites it holds, for good.
func TestLevelSourcesClosed(t *testing.T) {
	a := &closer{l: observe.Level{Kind: observe.LevelInFlight, Service: "a"}}
	b := &closer{l: observe.Level{Kind: observe.LevelInFlight, Service: "b"}}
	plain := sloppySource{{Kind: observe.LevelCapacity, Service: "plain"}}
	var src observe.LevelSource = observe.LevelSources{nil, a, observe.LevelSources{b}}
	c, ok := src.(observe.ClosedSource)
	if !ok {
		t.Fatal("observe.LevelSources is not an observe.ClosedSource")
	}
	if c.Closed() {
		t.Fatal("Closed() = true while a and b are open, want false")
	}
	a.closed = true
	if c.Closed() {
		t.Fatal("Closed() = true while b (nested) is open, want false")
	}
	if open := c.(observe.LevelSources).Open(); len(open) != 1 {
		t.Fatalf("Open() has %d parts with a closed and b open, want 1 (b's)", len(open))
	}
	b.closed = true
	if !c.Closed() {
		t.Fatal("Closed() = false with every part closed, want true")
	}
	if open := c.(observe.LevelSources).Open(); len(open) != 0 {
		t.Fatalf("Open() has %d parts with every part closed, want none", len(open))
	}
	if (observe.LevelSources{a, plain}).Closed() {
		t.Fatal("Closed() = true with a part that cannot close, want false")
	}
	open := observe.LevelSources{plain, nil, a}.Open()
	if len(open) != 1 || open[0] == nil {
		t.Fatalf("Open() of {plain, nil, closed} = %v, want {plain}", open)
	}
}

// A part of a LevelSources that holds a nil pointer or func (a nil *interceptors.Suite, left
// so when a feature is off), nested or not, is skipped as a nil part is, by Levels, Closed and
// Open alike: each called its methods, and panicked. promobs' Scrape left such parts out of
// what it was given, but a LevelSources read anywhere else (ranged over, or a suite's own
// Levels) was not.
func TestLevelSourcesSkipNilPointers(t *testing.T) {
	a := &closer{l: observe.Level{Kind: observe.LevelInFlight, Service: "a"}}
	var nilCloser *closer
	var nilFunc levelsFunc
	ls := observe.LevelSources{nilCloser, nilFunc, a, observe.LevelSources{nilCloser, nilFunc}}
	call := func(name string, f func()) {
		t.Helper()
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("%s with nil-pointer parts: panic: %v", name, p)
			}
		}()
		f()
	}
	var got []string
	call("Levels", func() {
		for l := range ls.Levels {
			got = append(got, l.Service)
		}
	})
	if len(got) != 1 || got[0] != "a" {
		t.Fatalf("Levels read %q, want a alone", got)
	}
	var closed bool
	call("Closed", func() { closed = ls.Closed() })
	if closed {
		t.Fatal("Closed() = true while a is open, want false")
	}
	var open observe.LevelSources
	call("Open", func() { open = ls.Open() })
	if len(open) != 1 || open[0] != observe.LevelSource(a) {
		t.Fatalf("Open() = %v, want {a}", open)
	}
	a.closed = true
	call("Closed", func() { closed = ls.Closed() })
	if !closed {
		t.Fatal("Closed() = false with a closed and the other parts nil pointers, want true")
	}
	call("Open", func() { open = ls.Open() })
	if len(open) != 0 {
		t.Fatalf("Open() = %v with a closed and the other parts nil pointers, want none", open)
	}
}
