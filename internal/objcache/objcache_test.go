package objcache_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/objcache"
	"github.com/bulwarkrpc/bulwark/section"
	grpccodes "google.golang.org/grpc/codes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type obj struct{ n int }

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

// built counts the objects builder made.
var built int

// builder returns a Builder that makes obj{n} with a closer counting into closed, and records
// whether it was told it replaces an object.
func builder(n int, closed *int, replacing *bool) objcache.Builder[*obj] {
	return func(r bool, onClose func(func() error)) (*obj, error) {
		built++
		*replacing = r
		onClose(func() error { *closed++; return nil })
		return &obj{n}, nil
	}
}

func TestGetKeepsWhileTheFingerprintHolds(t *testing.T) {
	var c objcache.Cache[*obj]
	built = 0
	k := objcache.Key{Section: "bulkhead", Name: "svc"}
	cfg := func(n int) any { v := n; return &v }
	over := codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}}
	closed, replacing := 0, false

	a, _ := c.Get(k, objcache.Fingerprint{Value: cfg(1)}, equal, false, builder(1, &closed, &replacing))
	if replacing {
		t.Fatal("the first build was told it replaces an object")
	}
	for _, tt := range []struct {
		name string
		fp   objcache.Fingerprint
		keep bool
	}{
		{"same value", objcache.Fingerprint{Value: cfg(1)}, true},
		{"classifier it does not use", objcache.Fingerprint{Value: cfg(1), Classifier: over, Budget: time.Second}, true},
		{"other value", objcache.Fingerprint{Value: cfg(2)}, false},
	} {
		before := a
		got, err := c.Get(k, tt.fp, equal, false, builder(2, &closed, &replacing))
		if err != nil {
			t.Fatal(err)
		}
		if (got == before) != tt.keep || (!tt.keep && !replacing) {
			t.Fatalf("%s: kept %v (replacing %v), want kept %v", tt.name, got == before, replacing, tt.keep)
		}
		a = got
	}

	// What the object uses joins the fingerprint.
	uses := objcache.Fingerprint{Value: cfg(2), Uses: section.UsesClassifier | section.UsesBudget, Budget: time.Second}
	b, _ := c.Get(k, uses, equal, false, builder(3, &closed, &replacing))
	if b == a {
		t.Fatal("a fingerprint that uses the classifier and budget matched one that does not")
	}
	for name, fp := range map[string]objcache.Fingerprint{
		"classifier": {Value: cfg(2), Uses: uses.Uses, Budget: time.Second, Classifier: over},
		"budget":     {Value: cfg(2), Uses: uses.Uses, Budget: 2 * time.Second},
		"deps":       {Value: cfg(2), Uses: uses.Uses, Budget: time.Second, Deps: []any{&obj{}}},
	} {
		c.Get(k, uses, equal, false, builder(3, &closed, &replacing)) //nolint:errcheck // back to uses
		before, _ := c.Get(k, uses, equal, false, builder(3, &closed, &replacing))
		if got, _ := c.Get(k, fp, equal, false, builder(4, &closed, &replacing)); got == before {
			t.Errorf("a change of %s kept the object", name)
		}
	}

	// Closers of replaced objects run at Close, with the cached ones', once.
	cached := 0
	c.Each(func(objcache.Key, *obj) bool { cached++; return true })
	if closed != 0 || cached != 1 || built != 8 {
		t.Fatalf("before Close: %d closed, %d cached, %d built; want 0, 1 and 8", closed, cached, built)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if closed != built || c.Len() != 0 {
		t.Fatalf("Close ran %d closers and left %d objects, want %d (every object built) and 0", closed, c.Len(), built)
	}
	if err := c.Close(); err != nil || closed != built {
		t.Fatalf("a second Close ran closers again (%d)", closed)
	}
}

func TestFailedBuildChangesNothing(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "rate_limit", Name: "svc"}
	closed, replacing := 0, false
	a, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing))
	boom := errors.New("boom")
	_, err := c.Get(k, objcache.Fingerprint{Value: 2}, equal, false, func(_ bool, onClose func(func() error)) (*obj, error) {
		onClose(func() error { closed++; return nil })
		return nil, boom
	})
	if !errors.Is(err, boom) || closed != 1 {
		t.Fatalf("failed build: err %v, %d closers run; want boom and its closer run at once", err, closed)
	}
	if got, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, builder(9, &closed, &replacing)); got != a {
		t.Fatal("a failed build replaced the cached object")
	}
}

func TestRefreshBuildsWhileTheFingerprintHolds(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "breaker", Name: "svc"}
	closed, replacing := 0, false
	a, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, true, builder(1, &closed, &replacing))
	b, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, true, builder(2, &closed, &replacing))
	if b == a || b.n != 2 || replacing {
		t.Fatalf("refresh: got obj %d (replacing %v), want the new build, not told it replaces", b.n, replacing)
	}
	if got, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, builder(3, &closed, &replacing)); got != b {
		t.Fatal("the refreshed object is not the cached one")
	}
}

func TestPruneRetiresWhatItForgets(t *testing.T) {
	var c objcache.Cache[*obj]
	closed, replacing := 0, false
	keep, drop := objcache.Key{Section: "bulkhead", Name: "a"}, objcache.Key{Section: "bulkhead", Name: "b"}
	kept, _ := c.Get(keep, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing))
	c.Get(drop, objcache.Fingerprint{Value: 1}, equal, false, builder(2, &closed, &replacing)) //nolint:errcheck // cannot fail
	c.Prune(func(k objcache.Key) bool { return k == keep })
	if c.Len() != 1 || closed != 0 {
		t.Fatalf("after Prune: %d objects, %d closed; want 1 and none closed yet", c.Len(), closed)
	}
	if got, _ := c.Get(keep, objcache.Fingerprint{Value: 1}, equal, false, builder(3, &closed, &replacing)); got != kept || replacing {
		t.Fatalf("Prune dropped the object it was told to keep (replacing %v)", replacing)
	}
	// A key forgotten and needed again is built as a replacement (its store, if any, must
	// make it afresh), once: the next Get finds it.
	again, _ := c.Get(drop, objcache.Fingerprint{Value: 1}, equal, false, builder(4, &closed, &replacing))
	if again.n != 4 || !replacing {
		t.Fatalf("forgotten key built again: obj %d, replacing %v; want obj 4, replacing", again.n, replacing)
	}
	replacing = false
	if got, _ := c.Get(drop, objcache.Fingerprint{Value: 1}, equal, true, builder(5, &closed, &replacing)); got.n != 5 || replacing {
		t.Fatalf("refresh after the rebuild: obj %d, replacing %v; want obj 5, not replacing", got.n, replacing)
	}
	if err := c.Close(); err != nil || closed != 4 {
		t.Fatalf("Close ran %d closers (%v), want the four objects'", closed, err)
	}
}

// retiredOf returns how many closers Close runs beyond those of the objects cached now: the
// retired ones. It closes c.
func retiredOf(t *testing.T, c *objcache.Cache[*obj], closed *int) int {
	t.Helper()
	before := *closed
	cachedClosers := 0
	c.Each(func(objcache.Key, *obj) bool { cachedClosers++; return true }) // one closer each (builder)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return *closed - before - cachedClosers
}

// A transaction's Gets stage what they build: the cache keeps its objects until Commit, which
// publishes the staged ones and retires those they replace.
func TestTxnCommitPublishes(t *testing.T) {
	var c objcache.Cache[*obj]
	closed, replacing := 0, false
	a, b := objcache.Key{Section: "breaker", Name: "a"}, objcache.Key{Section: "bulkhead", Name: "b"}
	oldA, _ := c.Get(a, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing))
	keptB, _ := c.Get(b, objcache.Fingerprint{Value: 1}, equal, false, builder(2, &closed, &replacing))

	tx := c.Begin()
	newA, err := tx.Get(a, objcache.Fingerprint{Value: 2}, equal, false, builder(3, &closed, &replacing))
	if err != nil || newA == oldA || !replacing {
		t.Fatalf("changed fingerprint in a transaction: %v, new object %v, replacing %v; want a new object, replacing", err, newA != oldA, replacing)
	}
	if got, _ := tx.Get(b, objcache.Fingerprint{Value: 1}, equal, false, builder(4, &closed, &replacing)); got != keptB {
		t.Fatal("a transaction rebuilt an object whose fingerprint holds")
	}
	// A second chain of the transaction naming a with the same fingerprint gets the staged
	// object, also with refresh.
	if got, _ := tx.Get(a, objcache.Fingerprint{Value: 2}, equal, true, builder(5, &closed, &replacing)); got != newA {
		t.Fatal("a second Get of the staged key in the transaction built again")
	}
	// Until Commit, the cache holds what it held.
	var cached []int
	c.Each(func(_ objcache.Key, o *obj) bool { cached = append(cached, o.n); return true })
	if len(cached) != 2 || cached[0] != 1 || cached[1] != 2 || closed != 0 {
		t.Fatalf("cache during the transaction: %v, %d closed; want [1 2], none closed", cached, closed)
	}
	tx.Commit()
	if got, _ := c.Get(a, objcache.Fingerprint{Value: 2}, equal, false, builder(6, &closed, &replacing)); got != newA {
		t.Fatal("Commit did not publish the staged object")
	}
	if closed != 0 {
		t.Fatalf("Commit ran %d closers, want none (the replaced object is retired, for Close)", closed)
	}
	if n := retiredOf(t, &c, &closed); n != 1 {
		t.Fatalf("%d retired closers after Commit, want 1 (the replaced object's)", n)
	}
}

// Rollback leaves the cache, its retired closers and the keys Prune forgot as they were, and
// runs the closers of everything the transaction built at once.
func TestTxnRollbackChangesNothing(t *testing.T) {
	var c objcache.Cache[*obj]
	closed, replacing := 0, false
	a, b, gone := objcache.Key{Section: "breaker", Name: "a"}, objcache.Key{Section: "breaker", Name: "b"}, objcache.Key{Section: "breaker", Name: "gone"}
	oldA, _ := c.Get(a, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing))
	c.Get(a, objcache.Fingerprint{Value: 2}, equal, false, builder(2, &closed, &replacing))    //nolint:errcheck // cannot fail; retires obj 1
	c.Get(gone, objcache.Fingerprint{Value: 1}, equal, false, builder(3, &closed, &replacing)) //nolint:errcheck // cannot fail
	c.Prune(func(k objcache.Key) bool { return k != gone })                                    // retires obj 3
	cachedA, _ := c.Get(a, objcache.Fingerprint{Value: 2}, equal, false, builder(9, &closed, &replacing))

	tx := c.Begin()
	tx.Get(a, objcache.Fingerprint{Value: 3}, equal, false, builder(4, &closed, &replacing))    //nolint:errcheck // cannot fail
	tx.Get(a, objcache.Fingerprint{Value: 4}, equal, false, builder(5, &closed, &replacing))    //nolint:errcheck // replaces the staged obj 4
	tx.Get(b, objcache.Fingerprint{Value: 1}, equal, false, builder(6, &closed, &replacing))    //nolint:errcheck // a new key
	tx.Get(gone, objcache.Fingerprint{Value: 1}, equal, false, builder(7, &closed, &replacing)) //nolint:errcheck // a forgotten key
	boom := errors.New("boom")
	if _, err := tx.Get(objcache.Key{Section: "rate_limit", Name: "c"}, objcache.Fingerprint{Value: 1}, equal, false,
		func(_ bool, onClose func(func() error)) (*obj, error) {
			onClose(func() error { closed++; return nil })
			return nil, boom
		}); !errors.Is(err, boom) || closed != 1 {
		t.Fatalf("failed build in a transaction: %v, %d closed; want boom, its closer run at once", err, closed)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if closed != 5 {
		t.Fatalf("Rollback ran %d closers in all, want 5 (the failed build's and the four objects the transaction built)", closed)
	}
	if c.Len() != 1 {
		t.Fatalf("%d objects cached after Rollback, want 1", c.Len())
	}
	if got, _ := c.Get(a, objcache.Fingerprint{Value: 2}, equal, false, builder(10, &closed, &replacing)); got != cachedA || got == oldA {
		t.Fatal("Rollback changed the cached object")
	}
	// The forgotten key is still built as a replacement: its store must make it afresh.
	c.Get(gone, objcache.Fingerprint{Value: 1}, equal, false, builder(11, &closed, &replacing)) //nolint:errcheck // cannot fail
	if !replacing {
		t.Fatal("after Rollback, the key Prune forgot is no longer built as a replacement")
	}
	closed = 0
	if n := retiredOf(t, &c, &closed); n != 2 {
		t.Fatalf("%d retired closers after Rollback, want 2 (obj 1's and obj 3's, retired before the transaction)", n)
	}
}

// A transaction ends once: Gets after its end are programming errors.
func TestTxnEnds(t *testing.T) {
	var c objcache.Cache[*obj]
	tx := c.Begin()
	tx.Commit()
	defer func() {
		if recover() == nil {
			t.Fatal("Get after Commit did not panic")
		}
	}()
	closed, replacing := 0, false
	tx.Get(objcache.Key{Section: "breaker", Name: "a"}, objcache.Fingerprint{}, equal, false, builder(1, &closed, &replacing)) //nolint:errcheck // panics
}

// A build that panics after registering a closer is a build that failed: its closer runs once,
// and the transaction's Rollback runs the closers of what it built before, once.
func TestTxnPanickingBuildRunsItsClosers(t *testing.T) {
	var c objcache.Cache[*obj]
	closed, replacing := 0, false
	tx := c.Begin()
	tx.Get(objcache.Key{Section: "breaker", Name: "a"}, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing)) //nolint:errcheck // cannot fail
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the build's panic did not reach Get's caller")
			}
		}()
		tx.Get(objcache.Key{Section: "rate_limit", Name: "b"}, objcache.Fingerprint{Value: 1}, equal, false, //nolint:errcheck // panics
			func(_ bool, onClose func(func() error)) (*obj, error) {
				onClose(func() error { closed++; return nil })
				panic("build")
			})
	}()
	if closed != 1 {
		t.Fatalf("%d closers ran after the panicking build, want 1 (its own)", closed)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if closed != 2 {
		t.Fatalf("%d closers ran after Rollback, want 2 (each once)", closed)
	}
}

// Retune keeps a cached object for a fingerprint that differs in its Value alone, when retune
// agrees: the object is the same, under the new fingerprint, and its closers run once (at
// Close), not at the Retune. The object gets its new settings (apply) when the transaction
// commits, not before; a rolled-back Retune never applies them and leaves the cache as it
// was. Another difference (Deps) or retune's refusal keeps nothing.
func TestRetuneKeepsTheObject(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "bulkhead", Name: "svc"}
	cfg := func(n int) any { v := n; return &v }
	closed, replacing := 0, false
	a, _ := c.Get(k, objcache.Fingerprint{Value: cfg(1)}, equal, false, builder(1, &closed, &replacing))
	yes := func(o *obj) (func(), bool) { return func() { o.n = 5 }, true }

	if ok := c.Retune(k, objcache.Fingerprint{Value: cfg(1)}, equal, yes); ok || a.n != 1 {
		t.Fatalf("Retune for the same fingerprint: %v (n=%d), want false and nothing changed", ok, a.n)
	}
	if ok := c.Retune(k, objcache.Fingerprint{Value: cfg(2), Deps: []any{a}}, equal, yes); ok || a.n != 1 {
		t.Fatalf("Retune with other Deps: %v (n=%d), want false and nothing changed", ok, a.n)
	}
	if ok := c.Retune(k, objcache.Fingerprint{Value: cfg(2)}, equal, func(*obj) (func(), bool) { return nil, false }); ok {
		t.Fatal("Retune kept an object its retune refused")
	}
	tx := c.Begin()
	if got, ok := tx.Retune(k, objcache.Fingerprint{Value: cfg(2)}, equal, yes); !ok || got != a || a.n != 1 {
		t.Fatalf("Txn.Retune: %p %v (n=%d), want the object, true, n=1 (applied at the commit)", got, ok, a.n)
	}
	if err := tx.Rollback(); err != nil || a.n != 1 || closed != 0 {
		t.Fatalf("after a rolled-back Retune: err %v, n=%d, closed %d; want n=1 and no closer run", err, a.n, closed)
	}
	if fp, _ := c.Fingerprint(k); !equal(fp.Value, cfg(1)) {
		t.Fatalf("a rolled-back Retune changed the fingerprint to %v", fp.Value)
	}
	if ok := c.Retune(k, objcache.Fingerprint{Value: cfg(2)}, equal, yes); !ok || a.n != 5 || closed != 0 {
		t.Fatalf("Retune: %v (n=%d, closed %d), want true, n=5, no closer run", ok, a.n, closed)
	}
	got, _ := c.Get(k, objcache.Fingerprint{Value: cfg(2)}, equal, false, builder(3, &closed, &replacing))
	if got != a {
		t.Fatal("Get after a Retune for its fingerprint built another object")
	}
	if err := c.Close(); err != nil || closed != 1 {
		t.Fatalf("Close: %v, closed %d times, want once", err, closed)
	}
}

// A Txn.Retune's new settings are given to the object at Commit, after the transaction's
// staged objects are published, and not while later Gets of the transaction build: a reload
// rejected later must not have applied them, even for a while.
func TestTxnRetuneAppliesAtCommit(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "bulkhead", Name: "svc"}
	other := objcache.Key{Section: "breaker", Name: "svc"}
	cfg := func(n int) any { v := n; return &v }
	closed, replacing := 0, false
	a, _ := c.Get(k, objcache.Fingerprint{Value: cfg(1)}, equal, false, builder(1, &closed, &replacing))
	tx := c.Begin()
	if _, ok := tx.Retune(k, objcache.Fingerprint{Value: cfg(2)}, equal, func(o *obj) (func(), bool) {
		return func() { o.n = 5 }, true
	}); !ok {
		t.Fatal("Txn.Retune refused")
	}
	seen := 0
	if _, err := tx.Get(other, objcache.Fingerprint{Value: cfg(1)}, equal, false, func(bool, func(func() error)) (*obj, error) {
		seen = a.n
		return &obj{n: 7}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != 1 {
		t.Errorf("a later Get of the transaction saw n=%d, want 1 (not applied before the commit)", seen)
	}
	tx.Commit()
	if a.n != 5 {
		t.Errorf("after the commit n=%d, want 5", a.n)
	}
}

// An apply that panics at Commit does not stop the others: every kept object gets its new
// settings and the commit is whole, then Commit panics with the first apply's value.
func TestCommitRunsEveryApplyWhenOnePanics(t *testing.T) {
	var c objcache.Cache[*obj]
	cfg := func(n int) any { v := n; return &v }
	closed, replacing := 0, false
	ka := objcache.Key{Section: "bulkhead", Name: "a"}
	kb := objcache.Key{Section: "bulkhead", Name: "b"}
	a, _ := c.Get(ka, objcache.Fingerprint{Value: cfg(1)}, equal, false, builder(1, &closed, &replacing))
	b, _ := c.Get(kb, objcache.Fingerprint{Value: cfg(1)}, equal, false, builder(1, &closed, &replacing))
	tx := c.Begin()
	tx.Retune(ka, objcache.Fingerprint{Value: cfg(2)}, equal, func(*obj) (func(), bool) { return func() { panic("apply") }, true })
	tx.Retune(kb, objcache.Fingerprint{Value: cfg(2)}, equal, func(o *obj) (func(), bool) { return func() { o.n = 2 }, true })
	var r any
	func() {
		defer func() { r = recover() }()
		tx.Commit()
	}()
	if r != "apply" {
		t.Errorf("Commit with a panicking apply recovered %v, want its panic (apply)", r)
	}
	if b.n != 2 {
		t.Errorf("the object whose apply came after the panicking one has n %d, want 2", b.n)
	}
	for _, k := range []objcache.Key{ka, kb} {
		if fp, ok := c.Fingerprint(k); !ok || !equal(fp.Value, cfg(2)) {
			t.Errorf("the cache's fingerprint of %v after the commit: %v, want the new one", k.Name, fp.Value)
		}
	}
	_ = a
}
