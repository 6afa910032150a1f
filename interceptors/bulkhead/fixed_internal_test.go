package bulkhead

import "testing"

// TestFixedGrantsAcrossTheRace plays the two orders in which a release and a waiter that found
// the bulkhead full can meet: the slot must reach the waiter in both.
func TestFixedGrantsAcrossTheRace(t *testing.T) {
	t.Run("release before the waiter queues", func(t *testing.T) {
		f := newFixed(1)
		if !f.tryAcquire() || f.tryAcquire() {
			t.Fatal("want one slot, then none")
		}
		// The waiter found no slot; before it queues, the holder gives its slot back with
		// nobody waiting yet.
		if !f.release() {
			t.Fatal("release of a held slot failed")
		}
		w := newWaiter()
		if !f.enqueue(w) {
			t.Fatal("the waiter queued behind a free slot: a lost wakeup")
		}
		wantTaken(t, f, 1)
	})
	t.Run("release after the waiter queued", func(t *testing.T) {
		f := newFixed(1)
		f.tryAcquire()
		w := newWaiter()
		if f.enqueue(w) {
			t.Fatal("granted a slot that is held")
		}
		if f.tryAcquire() {
			t.Fatal("a newcomer took a slot ahead of the queue")
		}
		f.release()
		select {
		case <-w.ready:
		default:
			t.Fatal("the freed slot did not reach the waiter")
		}
		if f.abandon(w) != true {
			t.Error("abandon of a granted waiter: want true (it holds the slot)")
		}
		wantTaken(t, f, 1)
	})
	t.Run("newcomer between a release's two steps", func(t *testing.T) {
		f := newFixed(1)
		f.tryAcquire()
		w := newWaiter()
		if f.enqueue(w) {
			t.Fatal("granted a slot that is held")
		}
		// release has given the slot back to the count and not yet handed it to the queue:
		// the slot is the waiter's, and a newcomer must not take it.
		f.taken.Add(-1)
		if f.tryAcquire() {
			t.Fatal("a newcomer took the freed slot ahead of the queued waiter")
		}
		f.mu.Lock()
		f.grantLocked()
		f.mu.Unlock()
		select {
		case <-w.ready:
		default:
			t.Fatal("the freed slot did not reach the waiter")
		}
		wantTaken(t, f, 1)
	})
	t.Run("abandoned waiter", func(t *testing.T) {
		f := newFixed(1)
		f.tryAcquire()
		w := newWaiter()
		f.enqueue(w)
		if f.abandon(w) {
			t.Fatal("abandon of a waiting waiter: want false")
		}
		f.release()
		if !f.tryAcquire() {
			t.Error("after the waiter left, a free slot should be taken at once")
		}
		if f.release(); f.release() {
			t.Error("release of a slot not held: want false")
		}
	})
}

func newWaiter() *waiter { return &waiter{ready: make(chan struct{})} }

func wantTaken(t *testing.T, f *fixed, want int) {
	t.Helper()
	if _, taken := f.state(); taken != want {
		t.Errorf("taken = %d, want %d", taken, want)
	}
}
