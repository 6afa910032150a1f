package promobs

import (
	"strconv"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/front"
)

// Issue 20: the caches were copy-on-write maps capped at 1024 keys, past which a new key's
// metric children were made again (WithLabelValues, under the vector's lock) on every event,
// so that recording cost grew with the number of services configured. A cache keeps every key
// and makes each one once.
func TestCacheMakesEachKeyOnceBeyondTheOldCap(t *testing.T) {
	var c cache[string, int]
	made := map[string]int{}
	mk := func(_ *Metrics, k string) int {
		made[k]++
		n, _ := strconv.Atoi(k)
		return n
	}
	const keys = 5000
	for round := range 3 {
		for i := range keys {
			k := strconv.Itoa(i)
			if v := c.get(nil, k, mk); v != i {
				t.Fatalf("round %d: get(%q) = %d, want %d", round, k, v, i)
			}
		}
	}
	for k, n := range made {
		if n != 1 {
			t.Fatalf("key %q made %d times, want once", k, n)
		}
	}
	if len(made) != keys || c.len() != keys {
		t.Fatalf("made %d keys, cache holds %d, want %d", len(made), c.len(), keys)
	}
	// Every key ends up readable without the lock once reads that missed it have paid for a
	// copy (an eighth of the keys): here within a few more rounds.
	for round := 3; ; round++ {
		lockFree := 0
		for i := range keys {
			if _, ok := c.load(strconv.Itoa(i)); ok {
				lockFree++
			} else {
				c.get(nil, strconv.Itoa(i), mk)
			}
		}
		if lockFree == keys {
			break
		}
		if round == 8 {
			t.Fatalf("after %d rounds, %d of %d keys are still read under the lock", round, keys-lockFree, keys)
		}
	}
}

// A key added after many others and then read often moves to the lock-free map after a
// bounded number of reads (an eighth of the keys).
func TestCachePromotesAHotNewKey(t *testing.T) {
	var c cache[int, int]
	mk := func(_ *Metrics, k int) int { return k }
	for i := range 1000 {
		c.get(nil, i, mk)
	}
	c.get(nil, -1, mk)
	for range 1000/8 + 1 {
		c.get(nil, -1, mk)
	}
	if _, ok := c.load(-1); !ok {
		t.Fatal("a key read 126 times after being added is still behind the lock")
	}
}

func TestCacheConcurrent(t *testing.T) {
	var c cache[int, int]
	var mu sync.Mutex
	made := map[int]int{}
	mk := func(_ *Metrics, k int) int {
		mu.Lock()
		made[k]++
		mu.Unlock()
		return k * 2
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3000 {
				k := (i*7 + g) % 2000
				if v := c.get(nil, k, mk); v != 2*k {
					t.Errorf("get(%d) = %d", k, v)
					return
				}
			}
		})
	}
	wg.Wait()
	for k, n := range made {
		if n != 1 {
			t.Fatalf("key %d made %d times", k, n)
		}
	}
}

// The front table answers as the map does, and two hot keys sharing a slot take it over in
// turn without allocating: the slot points at the map's own entries.
func TestCacheFrontSharesSlotsWithoutAllocating(t *testing.T) {
	var c cache[string, string]
	made := 0
	mk := func(_ *Metrics, k string) string {
		made++
		return "v-" + k
	}
	same := func(_ *Metrics, k string) string { return k }
	keys := make([]string, 10*front.Slots)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
	}
	a, b, ok := front.Colliding(keys...)
	if !ok {
		t.Fatal("no two keys share a front slot")
	}
	for range 3 {
		for _, k := range []string{a, b} {
			if v := c.getHintedBounded(front.Hint(k), nil, k, same, mk); v != "v-"+k {
				t.Fatalf("getHintedBounded(%q) = %q, want %q", k, v, "v-"+k)
			}
			if v, ok := c.loadHinted(front.Hint(k), k); !ok || v != "v-"+k {
				t.Fatalf("loadHinted(%q) = %q, %v; want %q", k, v, ok, "v-"+k)
			}
		}
	}
	if made != 2 {
		t.Fatalf("made %d values for 2 keys", made)
	}
	allocs := testing.AllocsPerRun(100, func() {
		c.getHintedBounded(front.Hint(a), nil, a, same, mk)
		c.getHintedBounded(front.Hint(b), nil, b, same, mk)
		c.loadHinted(front.Hint(a), a)
		c.loadHinted(front.Hint(b), b)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per round of two keys sharing a slot, want 0", allocs)
	}
	// A key the map does not have is not answered by the front table either.
	if _, ok := c.loadHinted(front.Hint("absent"), "absent"); ok {
		t.Fatal("loadHinted found a key never added")
	}
}
