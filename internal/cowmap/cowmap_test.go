package cowmap

import (
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLoadOrMake(t *testing.T) {
	var m Map[string, int]
	if _, ok := m.Load("a"); ok {
		t.Fatal("the zero Map holds a key")
	}
	made := 0
	mk := func(k string) int { made++; return len(k) }
	if got := m.LoadOrMake("abc", mk); got != 3 {
		t.Fatalf("LoadOrMake = %d, want 3", got)
	}
	if got := m.LoadOrMake("abc", mk); got != 3 || made != 1 {
		t.Fatalf("second LoadOrMake = %d after %d makes, want 3 after 1", got, made)
	}
	m.LoadOrMake("de", mk)
	if v, ok := m.Load("abc"); !ok || v != 3 {
		t.Fatalf("Load(abc) = %d, %v after another key was added", v, ok)
	}
	if v, ok := m.Load("de"); !ok || v != 2 || made != 2 {
		t.Fatalf("Load(de) = %d, %v (%d makes)", v, ok, made)
	}
}

// Under concurrent first use, each key is made exactly once and every caller gets that value.
func TestConcurrentMakeOnce(t *testing.T) {
	var m Map[int, *int]
	var made [8]atomic.Int32
	var wg sync.WaitGroup
	got := make([][8]*int, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 8 {
				got[g][k] = m.LoadOrMake(k, func(k int) *int { made[k].Add(1); v := k; return &v })
			}
		}()
	}
	wg.Wait()
	for k := range 8 {
		if n := made[k].Load(); n != 1 {
			t.Errorf("key %d made %d times, want 1", k, n)
		}
		for g := range 16 {
			if got[g][k] != got[0][k] {
				t.Errorf("goroutine %d got another value for key %d", g, k)
			}
		}
	}
}

func TestLoadAllocs(t *testing.T) {
	var m Map[string, int]
	m.LoadOrMake("k", func(string) int { return 1 })
	if n := testing.AllocsPerRun(100, func() { m.Load("k"); m.Load("missing") }); n != 0 {
		t.Fatalf("Load: %v allocs, want 0", n)
	}
}

// Issue 17 item 9: distinct keys past MaxKeys are not stored, so neither the map nor the copy
// each new key costs grows with them.
func TestLoadOrMakeBoundedPastMaxKeys(t *testing.T) {
	var m Map[int, int]
	made := 0
	mk := func(k int) int { made++; return k * 2 }
	const n = MaxKeys + 5000
	for k := range n {
		if got := m.LoadOrMake(k, mk); got != 2*k {
			t.Fatalf("LoadOrMake(%d) = %d", k, got)
		}
	}
	if got := len(*m.p.Load()) + len(m.dirty); got != MaxKeys {
		t.Fatalf("map holds %d keys after %d distinct ones, want MaxKeys (%d)", got, n, MaxKeys)
	}
	if _, inDirty := m.dirty[n-1]; inDirty {
		t.Fatal("key past MaxKeys stored")
	}
	if v, ok := m.Load(n - 1); ok {
		t.Fatalf("key past MaxKeys stored (%d)", v)
	}
	before := made
	if got := m.LoadOrMake(n-1, mk); got != 2*(n-1) || made != before+1 {
		t.Fatalf("key past MaxKeys: %d after %d makes, want its value made again", got, made-before)
	}
	if v, ok := m.Load(0); !ok || v != 0 {
		t.Fatal("a stored key was lost")
	}
}

// LoadOrMakeUnbounded stores keys past MaxKeys, each made once, and Len counts them all.
func TestLoadOrMakeUnboundedKeepsEveryKey(t *testing.T) {
	var m Map[int, int]
	made := 0
	mk := func(k int) int { made++; return k * 2 }
	const n = MaxKeys + 5000
	for range 2 {
		for k := range n {
			if got := m.LoadOrMakeUnbounded(k, mk); got != 2*k {
				t.Fatalf("LoadOrMakeUnbounded(%d) = %d", k, got)
			}
		}
	}
	if made != n || m.Len() != n {
		t.Fatalf("made %d values, map holds %d keys, want %d each", made, m.Len(), n)
	}
}

// Issue 20: a policy serving 10 000 methods (a service with that many, sharing one retry
// policy) kept only the first 1024, so every call of a later method made its entry again (an
// allocation and a descriptor lookup). Every key below MaxKeys is made once, and after a
// bounded number of reads each is found by Load, without the lock.
func TestManyKeysMadeOnceAndReadWithoutLock(t *testing.T) {
	var m Map[int, int]
	made := map[int]int{}
	mk := func(k int) int { made[k]++; return k + 1 }
	const n = 10000
	for k := range n {
		m.LoadOrMake(k, mk)
	}
	for round := 0; ; round++ {
		missing := 0
		for k := range n {
			if _, ok := m.Load(k); !ok {
				missing++
				if got := m.LoadOrMake(k, mk); got != k+1 {
					t.Fatalf("LoadOrMake(%d) = %d", k, got)
				}
			}
		}
		if missing == 0 {
			break
		}
		if round == 8 {
			t.Fatalf("%d of %d keys still not readable without the lock after %d rounds", missing, n, round)
		}
	}
	for k, c := range made {
		if c != 1 {
			t.Fatalf("key %d made %d times, want once", k, c)
		}
	}
	if len(made) != n {
		t.Fatalf("%d keys made, want %d", len(made), n)
	}
}

// Flush makes every key stored so far visible to Load, the last ones added included.
func TestFlush(t *testing.T) {
	var m Map[int, int]
	for i := range 100 {
		m.LoadOrMake(i, func(k int) int { return k * 2 })
	}
	m.Flush()
	for i := range 100 {
		if v, ok := m.Load(i); !ok || v != i*2 {
			t.Fatalf("Load(%d) after Flush = %d, %v; want %d, true", i, v, ok, i*2)
		}
	}
	m.Flush() // nothing new: a no-op
	if m.Len() != 100 {
		t.Fatalf("Len = %d, want 100", m.Len())
	}
}

// LoadOrMakeKept tells a value the map holds from one made past MaxKeys and not stored.
func TestLoadOrMakeKeptSaysWhetherStored(t *testing.T) {
	var m Map[int, int]
	for i := range MaxKeys {
		if _, kept := m.LoadOrMakeKept(i, func(k int) int { return k }); !kept {
			t.Fatalf("key %d of %d: not kept, want kept", i, MaxKeys)
		}
	}
	if v, kept := m.LoadOrMakeKept(1, func(int) int { return -1 }); v != 1 || !kept {
		t.Errorf("a kept key: (%d, %v), want (1, true)", v, kept)
	}
	if v, kept := m.LoadOrMakeKept(MaxKeys, func(k int) int { return k }); v != MaxKeys || kept {
		t.Errorf("a key past MaxKeys: (%d, %v), want (%d, false)", v, kept, MaxKeys)
	}
}

// Len counts the keys added recently, not yet merged, as well as the merged ones.
func TestLenCountsUnmergedKeys(t *testing.T) {
	var m Map[int, int]
	for i := range 100 {
		m.LoadOrMake(i, func(k int) int { return k })
	}
	m.Flush()
	m.LoadOrMake(1000, func(k int) int { return k })
	if _, ok := m.Load(1000); ok {
		t.Fatal("one new key after 100 was merged at once: want it kept aside until a merge pays")
	}
	if n := m.Len(); n != 101 {
		t.Fatalf("Len = %d, want 101", n)
	}
}

// The lookups that took the mutex count from the last merge: a merge, however it came, starts
// the count anew, so that a map of n keys is copied once per max(n/8, 8) such lookups at most.
func TestMissesCountFromTheLastMerge(t *testing.T) {
	var m Map[int, int]
	mk := func(k int) int { return k }
	for i := range 200 {
		m.LoadOrMake(i, mk) // many lookups that missed, and merges by size
	}
	m.Flush()
	for i := range 24 { // max(200/8, 8) = 25: one short of a merge
		m.LoadOrMake(1000+i, mk)
		if _, ok := m.Load(1000 + i); ok {
			t.Fatalf("new key %d of 24 after a merge of 200 was merged: want 25 lookups first", i+1)
		}
	}
	m.LoadOrMake(2000, mk)
	if _, ok := m.Load(2000); !ok {
		t.Fatal("the 25th lookup that missed did not merge")
	}
}
