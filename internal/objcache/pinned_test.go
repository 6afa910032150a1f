package objcache_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/objcache"
	"github.com/bulwarkrpc/bulwark/section"
)

// A classifier's ErrorInfo reason overrides are part of the fingerprint of an object that
// classifies outcomes, as its code overrides are: a reload that makes DOCUMENT_UNREADABLE
// transient must rebuild the breaker that counted it as business. An object that does not
// classify keeps itself across such a change.
func TestSameComparesReasonOverrides(t *testing.T) {
	business := codes.Overrides{Reasons: map[string]codes.Class{"DOCUMENT_UNREADABLE": codes.Business}}
	transient := codes.Overrides{Reasons: map[string]codes.Class{"DOCUMENT_UNREADABLE": codes.Transient}}
	f := objcache.Fingerprint{Value: 1, Uses: section.UsesClassifier, Classifier: business}
	g := objcache.Fingerprint{Value: 1, Uses: section.UsesClassifier, Classifier: transient}
	if f.Same(g, equal) {
		t.Fatal("fingerprints whose classifiers map a reason to business and to transient are Same")
	}
	if !f.Same(objcache.Fingerprint{Value: 1, Uses: section.UsesClassifier, Classifier: business}, equal) {
		t.Fatal("fingerprints with equal reason overrides are not Same")
	}
	f.Uses, g.Uses = 0, 0
	if !f.Same(g, equal) {
		t.Fatal("reason overrides told apart the fingerprints of objects that do not classify")
	}
}

// An object staged by a transaction and replaced in it by another of the same key and another
// fingerprint may serve a chain built in the transaction: Commit retires it, and its closers
// run at Close, once, as the published object's do.
func TestCommitRetiresAnObjectReplacedInTheTransaction(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "bulkhead", Name: "svc"}
	closed, replacing := 0, false
	tx := c.Begin()
	first, _ := tx.Get(k, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing))
	second, _ := tx.Get(k, objcache.Fingerprint{Value: 2}, equal, false, builder(2, &closed, &replacing))
	if first == second || !replacing {
		t.Fatalf("a second fingerprint in the transaction: new object %v, replacing %v; want a new object, replacing", first != second, replacing)
	}
	tx.Commit()
	if closed != 0 {
		t.Fatalf("Commit ran %d closers, want none before Close", closed)
	}
	if err := c.Close(); err != nil || closed != 2 {
		t.Fatalf("Close ran %d closers (%v), want 2: the published object's and the one it replaced in the transaction", closed, err)
	}
}

// An object Retune kept, then replaced in the same transaction by a build for another
// fingerprint, is retired once: its closers, which are the cached object's, run once at
// Close, not twice.
func TestRetunedObjectReplacedInTheTransactionClosesOnce(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "bulkhead", Name: "svc"}
	closed, replacing := 0, false
	a, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing))
	tx := c.Begin()
	if got, ok := tx.Retune(k, objcache.Fingerprint{Value: 2}, equal, func(*obj) (func(), bool) { return nil, true }); !ok || got != a {
		t.Fatalf("Txn.Retune = %v, %v; want the cached object kept", got != a, ok)
	}
	b, _ := tx.Get(k, objcache.Fingerprint{Value: 2, Deps: []any{a}}, equal, false, builder(2, &closed, &replacing))
	if b == a || !replacing {
		t.Fatalf("Get with other Deps after the Retune: new object %v, replacing %v; want a new object, replacing", b != a, replacing)
	}
	tx.Commit()
	if err := c.Close(); err != nil || closed != 2 {
		t.Fatalf("Close ran %d closers (%v), want 2: the kept-then-replaced object's once and the new one's", closed, err)
	}
}

// Retune keeps only what the cache holds when nothing is staged under the key yet: once a Get
// of the transaction staged an object there, Retune leaves it and does not ask retune.
func TestRetuneLeavesAStagedKey(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "bulkhead", Name: "svc"}
	closed, replacing := 0, false
	c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, builder(1, &closed, &replacing)) //nolint:errcheck // cannot fail
	tx := c.Begin()
	staged, _ := tx.Get(k, objcache.Fingerprint{Value: 2, Deps: []any{&obj{}}}, equal, false, builder(2, &closed, &replacing))
	asked := 0
	if _, ok := tx.Retune(k, objcache.Fingerprint{Value: 3}, equal, func(*obj) (func(), bool) { asked++; return nil, true }); ok || asked != 0 {
		t.Fatalf("Retune of a staged key = %v, retune asked %d times; want false, never asked", ok, asked)
	}
	tx.Commit()
	var got []*obj
	c.Each(func(_ objcache.Key, o *obj) bool { got = append(got, o); return true })
	if len(got) != 1 || got[0] != staged {
		t.Fatalf("after Commit the cache holds %d objects (staged one first: %v), want the staged object alone", len(got), len(got) > 0 && got[0] == staged)
	}
}

// Each visits the cached objects by section, then by name, and stops once yield returns false.
func TestEachOrdersBySectionThenNameAndStops(t *testing.T) {
	var c objcache.Cache[*obj]
	closed, replacing := 0, false
	for i, k := range []objcache.Key{{Section: "bulkhead", Name: "a"}, {Section: "breaker", Name: "b"}, {Section: "breaker", Name: "a"}} {
		c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, builder(i, &closed, &replacing)) //nolint:errcheck // cannot fail
	}
	var got []string
	c.Each(func(k objcache.Key, _ *obj) bool { got = append(got, string(k.Section)+"/"+k.Name); return true })
	if want := "breaker/a breaker/b bulkhead/a"; strings.Join(got, " ") != want {
		t.Fatalf("Each visited %v, want %s", got, want)
	}
	n := 0
	c.Each(func(objcache.Key, *obj) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Each called yield %d times after it returned false at the second, want 2", n)
	}
}

// Close forgets only the objects that registered closers: one without any stays cached and is
// got again, not rebuilt.
func TestCloseKeepsObjectsWithoutClosers(t *testing.T) {
	var c objcache.Cache[*obj]
	k := objcache.Key{Section: "retry", Name: "svc"}
	plain := func(n int) objcache.Builder[*obj] {
		return func(bool, func(func() error)) (*obj, error) { return &obj{n}, nil }
	}
	a, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, plain(1))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 1 {
		t.Fatalf("%d objects cached after Close, want 1 (it registered no closer)", c.Len())
	}
	if got, _ := c.Get(k, objcache.Fingerprint{Value: 1}, equal, false, plain(2)); got != a {
		t.Fatalf("Get after Close built obj %d, want the cached obj 1", got.n)
	}
}
