package testkit

import (
	"context"
	"sync/atomic"
	"time"
)

// Expiring is a context whose deadline passes when Expire is called: for a test of a call
// whose caller's deadline passes while it runs (which a policy counts against the service,
// unlike a call whose deadline had passed before it began), without a real-time deadline
// that a busy machine could reach before the call starts. Its Deadline is an hour after it
// was made until then, and the moment of Expire after. Contexts derived from it see its end
// as a cancellation: pass it itself where the test needs the deadline seen.
type Expiring struct {
	context.Context
	cancel  context.CancelFunc
	expired atomic.Bool
	at      atomic.Int64 // unix nanoseconds of the deadline
}

// NewExpiring returns an Expiring context under parent, ended by Expire or t's cleanup.
func NewExpiring(t interface{ Cleanup(func()) }, parent context.Context) *Expiring {
	ctx, cancel := context.WithCancel(parent)
	c := &Expiring{Context: ctx, cancel: cancel}
	c.at.Store(time.Now().Add(time.Hour).UnixNano())
	t.Cleanup(cancel)
	return c
}

// Expire makes the deadline pass now: Done closes and Err is context.DeadlineExceeded.
func (c *Expiring) Expire() {
	c.at.Store(time.Now().UnixNano())
	c.expired.Store(true)
	c.cancel()
}

// Deadline is the context's deadline, which has passed once Expire was called.
func (c *Expiring) Deadline() (time.Time, bool) { return time.Unix(0, c.at.Load()), true }

// Err is context.DeadlineExceeded once Expire was called, else the parent's error.
func (c *Expiring) Err() error {
	if c.expired.Load() {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}
