package front

import (
	"slices"
	"strconv"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type kv struct{ k, v string }

// A string's slot follows its address: the same string always finds its slot, whatever else
// was stored since in other slots.
func TestLoadFindsWhatWasStored(t *testing.T) {
	var tab Table[kv]
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
	}
	for _, k := range keys {
		tab.Store(Hint(k), &kv{k, "v" + k})
	}
	// The last key stored in each slot is found; the others miss (never a wrong value).
	hits := 0
	for _, k := range keys {
		e := tab.Load(Hint(k))
		if e == nil {
			t.Fatalf("slot of %q is empty after a store", k)
		}
		if e.k == k {
			hits++
			if e.v != "v"+k {
				t.Fatalf("slot of %q holds %q", k, e.v)
			}
		}
	}
	if hits == 0 || hits > Slots {
		t.Fatalf("%d of %d keys found, want between 1 and %d", hits, len(keys), Slots)
	}
	if got := Hint(keys[3]); got != Hint(keys[3]) {
		t.Fatal("Hint of one string changes")
	}
}

func TestColliding(t *testing.T) {
	keys := make([]string, 10*Slots)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
	}
	a, b, ok := Colliding(keys...)
	if !ok || a == b || slot(Hint(a)) != slot(Hint(b)) {
		t.Fatalf("Colliding = %q, %q, %v: want two keys of one slot", a, b, ok)
	}
	if _, _, ok := Colliding(keys[0]); ok {
		t.Fatal("one key collides with itself")
	}
}

func TestConcurrent(t *testing.T) {
	var tab Table[kv]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := "k" + strconv.Itoa(g)
			e := &kv{k, k}
			for range 1000 {
				if got := tab.Load(Hint(k)); got != nil && got.k == k && got.v != k {
					t.Errorf("slot of %q holds %q", k, got.v)
					return
				}
				tab.Store(Hint(k), e)
			}
		}()
	}
	wg.Wait()
}

// Colliding returns its two keys in the order given: the earlier first.
func TestCollidingKeepsTheOrderGiven(t *testing.T) {
	keys := make([]string, 10*Slots)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
	}
	a, b, ok := Colliding(keys...)
	if !ok {
		t.Fatal("no two keys collide")
	}
	ia, ib := slices.Index(keys, a), slices.Index(keys, b)
	if ia >= ib {
		t.Fatalf("Colliding = %q (key %d), %q (key %d): want the earlier key first", a, ia, b, ib)
	}
}

// A Table has Slots slots: hints h and h+Slots share one, and each of 0..Slots-1 has its own.
func TestTableHasSlotsSlots(t *testing.T) {
	var tab Table[kv]
	vals := make([]kv, Slots)
	for h := range uintptr(Slots) {
		vals[h] = kv{k: strconv.Itoa(int(h))}
		tab.Store(h, &vals[h])
	}
	for h := range uintptr(Slots) {
		if got := tab.Load(h); got != &vals[h] {
			t.Fatalf("Load(%d) = %v, want the value stored with hint %d", h, got, h)
		}
		if got := tab.Load(h + Slots); got != &vals[h] {
			t.Fatalf("Load(%d) = %v, want the value stored with hint %d", h+Slots, got, h)
		}
	}
}
