package ratelimit

import (
	"errors"
	"runtime"
	"testing"

	"github.com/bulwarkrpc/bulwark/section"
)

// Users of one registry reconfigure apart: a user that changes a shared bucket's settings
// makes no conflict for another, which keeps the bucket of its settings until it changes them
// too; then both share one bucket. Two users with the same settings share one bucket.
func TestRegistryUsersReconfigureApart(t *testing.T) {
	reg := NewRegistry()
	a, b := reg.User(), reg.User()
	ten := Config{Rate: 10, Shared: "x"}
	twenty := Config{Rate: 20, Shared: "x"}
	la, err := a.Local(ten)
	if err != nil {
		t.Fatal(err)
	}
	if lb, err := b.Local(ten); err != nil || lb != la {
		t.Fatalf("b at a's settings: %v (same bucket %v), want a's bucket", err, lb == la)
	}
	a.Reconfigure()
	a20, err := a.Local(twenty)
	if err != nil || a20 == la {
		t.Fatalf("a reconfigured to 20: %v (same bucket %v), want a new bucket", err, a20 == la)
	}
	if _, err := a.Local(ten); !errors.Is(err, ErrSharedConflict) {
		t.Fatalf("a asks for 10 in its configuration at 20: %v, want ErrSharedConflict", err)
	}
	if lb, err := b.Local(ten); err != nil || lb != la {
		t.Fatalf("b still at 10 after a's change: %v (same bucket %v), want its bucket", err, lb == la)
	}
	b.Reconfigure()
	if lb, err := b.Local(ten); err != nil || lb != la {
		t.Fatalf("b reconfigured at 10: %v (same bucket %v), want its bucket", err, lb == la)
	}
	if l, err := a.Local(twenty); err != nil || l != a20 {
		t.Fatalf("a after b's reconfiguration: %v (same bucket %v), want its bucket at 20", err, l == a20)
	}
	b.Reconfigure()
	if lb, err := b.Local(twenty); err != nil || lb != a20 {
		t.Fatalf("b reconfigured to 20: %v (same bucket %v), want a's bucket", err, lb == a20)
	}
	if l, err := reg.Local(twenty); err != nil || l != a20 {
		t.Fatalf("the registry itself at 20: %v (same bucket %v), want its users' bucket", err, l == a20)
	}
}

// Two users' reloads built at once share the bucket of new settings that one of them made,
// before either commits.
func TestRegistryUsersStagesShare(t *testing.T) {
	reg := NewRegistry()
	a, b := reg.User(), reg.User()
	ten := Config{Rate: 10, Shared: "x"}
	twenty := Config{Rate: 20, Shared: "x"}
	for _, u := range []*Registry{a, b} {
		if _, err := u.Local(ten); err != nil {
			t.Fatal(err)
		}
		u.Reconfigure()
	}
	sa, sb := &section.Stage{}, &section.Stage{}
	la, err := a.staged(twenty, sa)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.staged(twenty, sb)
	if err != nil || lb != la {
		t.Fatalf("b's reload to 20 while a's is built: %v (same bucket %v), want a's new bucket", err, lb == la)
	}
	sa.Commit()
	sb.Commit()
	if l, err := reg.Local(twenty); err != nil || l != la {
		t.Fatalf("after both commits: %v (same bucket %v), want their bucket", err, l == la)
	}
}

// A user no longer referenced is forgotten, with the buckets only it asked for.
func TestRegistryForgetsUnreferencedUsers(t *testing.T) {
	reg := NewRegistry()
	for i := range 100 {
		if _, err := reg.User().Local(Config{Rate: float64(i + 1), Shared: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	keep := reg.User()
	reg.mu.Lock()
	n := len(reg.users)
	reg.mu.Unlock()
	if n > 1 {
		t.Errorf("registry holds %d users after the others went, want 1", n)
	}
	if l, err := keep.Local(Config{Rate: 1, Shared: "x"}); err != nil || l == nil {
		t.Fatalf("a live user: %v", err)
	}
	runtime.KeepAlive(keep)
}
