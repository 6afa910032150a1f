package retry

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// An attempt's context runs the funcs of its AfterFunc when the attempt ends, before end
// returns, once each, but for those whose stop returned true first; inner's own
// registration of a func run so starts no goroutine that runs it again. A func registered
// once the attempt ended runs (in a goroutine of its own, as context.AfterFunc's).
func TestAttemptContextAfterFuncRunsAtEndOnceAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent := context.Background()
		inner, cancel := context.WithCancelCause(parent)
		a := &attemptTimeout{cancel: cancel, s: new(retryStream)} // of a stream it is no attempt of
		a.ctx.parent, a.ctx.inner = parent, inner
		var ran [4]atomic.Int32
		stop0 := a.ctx.AfterFunc(func() { ran[0].Add(1) })
		a.ctx.AfterFunc(func() { ran[1].Add(1) })
		stop2 := a.ctx.AfterFunc(func() { ran[2].Add(1) })
		if !stop2() {
			t.Error("stop of a func not yet run = false, want true")
		}
		a.fire()
		if got := [3]int32{ran[0].Load(), ran[1].Load(), ran[2].Load()}; got != [3]int32{1, 1, 0} {
			t.Errorf("funcs run when fire returned: %v, want [1 1 0]", got)
		}
		if err := a.ctx.Err(); err != context.DeadlineExceeded {
			t.Errorf("Err = %v, want %v", err, context.DeadlineExceeded)
		}
		if stop0() {
			t.Error("stop of a func already run = true, want false")
		}
		a.end(context.Canceled) // the stream lets the attempt go after its timer fired
		a.ctx.AfterFunc(func() { ran[3].Add(1) })
		synctest.Wait()
		if got := [4]int32{ran[0].Load(), ran[1].Load(), ran[2].Load(), ran[3].Load()}; got != [4]int32{1, 1, 0, 1} {
			t.Errorf("funcs run in all: %v, want [1 1 0 1]", got)
		}
		if err := a.ctx.Err(); err != context.DeadlineExceeded {
			t.Errorf("Err after the stream let the attempt go = %v, want %v", err, context.DeadlineExceeded)
		}
	})
}

// When the parent ends the attempt's context, inner's registration runs each func once (in a
// goroutine of its own); the stream's later end of the attempt runs none again.
func TestAttemptContextAfterFuncRunsOnceWhenTheParentEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		inner, cancel := context.WithCancelCause(parent)
		a := &attemptTimeout{cancel: cancel}
		a.ctx.parent, a.ctx.inner = parent, inner
		var ran atomic.Int32
		a.ctx.AfterFunc(func() { ran.Add(1) })
		a.ctx.AfterFunc(func() { ran.Add(1) })
		cancelParent()
		synctest.Wait()
		a.end(context.Canceled)
		synctest.Wait()
		if got := ran.Load(); got != 2 {
			t.Errorf("funcs run: %d, want 2", got)
		}
		if err := a.ctx.Err(); err != context.Canceled {
			t.Errorf("Err = %v, want %v", err, context.Canceled)
		}
	})
}
