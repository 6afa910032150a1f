package redislimit

import (
	"context"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bulwarkrpc/bulwark/clock"
)

// steppedClock reads as the system clock does, a wall reading and a monotonic one, but both
// set by the test: the monotonic reading moves only forward, with Advance, while the wall
// reading also moves with Step, as an NTP correction steps the system clock. Timers are real
// (the tests that use it make none).
type steppedClock struct {
	mu   sync.Mutex
	base time.Time // a time.Now reading: it carries a monotonic reading
	mono time.Duration
	wall time.Duration // the wall reading's steps
}

func newSteppedClock() *steppedClock { return &steppedClock{base: time.Now()} }

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return withWall(c.base.Add(c.mono), c.wall)
}

func (c *steppedClock) Advance(d time.Duration) { c.mu.Lock(); c.mono += d; c.mu.Unlock() }
func (c *steppedClock) Step(d time.Duration)    { c.mu.Lock(); c.wall += d; c.mu.Unlock() }

func (c *steppedClock) NewTimer(d time.Duration) clock.Timer { return clock.Real.NewTimer(d) }
func (c *steppedClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return clock.Real.AfterFunc(d, f)
}

// withWall returns t, which carries a monotonic reading, with its wall reading moved by d
// (whole seconds) and its monotonic reading kept: what time.Now returns after the system
// clock was stepped by d. The time package has no way to build such a reading, so this
// edits the seconds field of its wall word (bits 1 to 33 when the monotonic bit is set).
func withWall(t time.Time, d time.Duration) time.Time {
	type rep struct {
		wall uint64
		ext  int64
		loc  *time.Location
	}
	const hasMonotonic = 1 << 63
	r := (*rep)(unsafe.Pointer(&t))
	if r.wall&hasMonotonic == 0 || d%time.Second != 0 {
		panic("withWall: a reading without a monotonic clock, or a step that is not whole seconds")
	}
	r.wall += uint64(int64(d/time.Second)) << 30
	return t
}

// The pause after a failed round trip is a span of time; a step of the system's wall clock
// (an NTP correction) is not time passing. With the real clock a reading carries the
// monotonic clock, which never steps, and the pause must be measured on it, as the local
// bucket measures its refill. It was kept as a wall time (UnixNano): once the wall clock
// stepped back an hour during a pause, the limiter skipped Redis for that hour more, and a
// fail-closed one refused every call as Unavailable while Redis answered.
func TestPauseIgnoresAWallClockStep(t *testing.T) {
	c := newSteppedClock()
	// The readings the test builds are what it means them to be.
	if a, b := c.Now(), withWall(c.Now(), -time.Hour); b.Sub(a) != 0 || a.UnixNano()-b.UnixNano() != int64(time.Hour) {
		t.Fatalf("withWall: Sub %v, wall difference %v; want 0 and 1h", b.Sub(a), time.Duration(a.UnixNano()-b.UnixNano()))
	}

	srv := ownServer(t)
	l := testLimiter(t, "ocr", config(srv.addr, prefix(t), 1000, 1000), WithClock(c))
	if d := take(t, l); !d.Allowed {
		t.Fatal("healthy take: denied")
	}
	srv.kill()
	if _, err := l.Take(context.Background(), 0); err == nil {
		t.Fatal("take with Redis down: no error, want the fail-closed refusal")
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}

	c.Step(-time.Hour)              // the system clock is corrected an hour back
	c.Advance(DefaultProbeInterval) // and the pause is over
	trips := l.trips.Load()
	d, err := l.Take(context.Background(), 0)
	if err != nil || !d.Allowed {
		t.Fatalf("take after the pause, the wall clock stepped back 1h = %+v, %v after %d round trips; want it to probe Redis and be admitted",
			d, err, l.trips.Load()-trips)
	}
}
