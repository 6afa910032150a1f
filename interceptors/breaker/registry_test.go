package breaker

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/section"
)

func TestRegistryGet(t *testing.T) {
	base := Config{ConsecutiveFailures: 2}
	tests := []struct {
		name      string
		second    Config
		wantSame  bool
		wantState State // of the breaker the second Get returns
	}{
		{name: "same config keeps the breaker and its state", second: base, wantSame: true, wantState: Open},
		{name: "explicit defaults equal the zero values", second: Config{ConsecutiveFailures: 2, Scope: ScopeService, WindowSize: 10, RecoveryTimeout: 30 * time.Second}, wantSame: true, wantState: Open},
		{name: "a changed setting replaces it", second: Config{ConsecutiveFailures: 3}, wantSame: false, wantState: Closed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reg Registry
			first, err := reg.Get(svc, base)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				_ = first.Execute(func() error { return errFail })
			}
			second, err := reg.Get(svc, tt.second)
			if err != nil {
				t.Fatal(err)
			}
			if (first == second) != tt.wantSame {
				t.Fatalf("same breaker = %v, want %v", first == second, tt.wantSame)
			}
			if s := second.State(); s != tt.wantState {
				t.Fatalf("state = %v, want %v", s, tt.wantState)
			}
			if got, _ := reg.Lookup(svc); got != second {
				t.Fatalf("Lookup returned another breaker")
			}
		})
	}
}

func TestRegistryInvalid(t *testing.T) {
	var reg Registry
	if _, err := reg.Get(svc, Config{WindowSize: -1}); err == nil {
		t.Fatal("Get accepted an invalid config")
	}
	if _, ok := reg.Lookup(svc); ok {
		t.Fatal("an invalid config left a breaker behind")
	}
}

func TestRegistryEachSnapshotDelete(t *testing.T) {
	var reg Registry
	for _, n := range []string{"b.Svc", "a.Svc", "c.Svc"} {
		if _, err := reg.Get(n, Config{}); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := reg.Lookup("a.Svc")
	a.ForceOpen()
	var names []string
	reg.Each(func(name string, b *Breaker) { names = append(names, name+"="+b.State().String()) })
	want := []string{"a.Svc=forced_open", "b.Svc=closed", "c.Svc=closed"}
	if len(names) != len(want) {
		t.Fatalf("Each = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("Each = %v, want %v", names, want)
		}
	}
	snap := reg.Snapshot()
	if len(snap) != 3 || snap["a.Svc"].State != ForcedOpen || snap["a.Svc"].StateChanges != 1 {
		t.Fatalf("Snapshot = %+v", snap)
	}
	reg.Delete("a.Svc")
	if _, ok := reg.Lookup("a.Svc"); ok {
		t.Fatal("Delete left the breaker")
	}
}

func TestRegistryConcurrentGet(t *testing.T) {
	var reg Registry
	const n = 32
	got := make([]*Breaker, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			b, err := reg.Get(svc, Config{})
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("Get %d returned another breaker", i)
		}
	}
}

// A suite's build of the breaker section hands its chain a new breaker without putting it in
// the registry: the registry takes it when the suite's reload commits (Env.Stage), so that a
// rejected reload leaves the registry's breaker, and its state, as they were.
func TestSectionBuildPutsInTheRegistryAtCommit(t *testing.T) {
	reg := &Registry{}
	env := func(st *section.Stage, replacing bool) *section.Env {
		return &section.Env{
			Service: svc, FullMethod: "/" + svc + "/Compare", Name: svc, Classifier: codes.Default(),
			Values: map[reflect.Type]any{reflect.TypeFor[*Registry](): reg}, Replacing: replacing, Stage: st,
		}
	}
	base := Config{ConsecutiveFailures: 2}
	first := &section.Stage{}
	b, err := build(env(first, false), base)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Lookup(svc); ok {
		t.Fatal("the registry holds the new breaker before its reload committed")
	}
	first.Commit()
	kept, ok := reg.Lookup(svc)
	if !ok || kept != b.Object {
		t.Fatal("the registry does not hold the breaker its reload committed")
	}
	_ = kept.Execute(func() error { return errFail })
	_ = kept.Execute(func() error { return errFail })

	// The same settings: the registry's breaker, with its state; nothing to commit.
	if b, err := build(env(&section.Stage{}, false), base); err != nil || b.Object != kept {
		t.Fatalf("build with the same settings: %v, same breaker %v; want the registry's", err, b.Object == kept)
	}
	// Other settings, or the suite replacing the breaker: a new one, which a rejected reload
	// (its stage dropped, not committed) never puts in the registry.
	for _, tt := range []struct {
		cfg       Config
		replacing bool
	}{{Config{ConsecutiveFailures: 3}, false}, {base, true}} {
		b, err := build(env(&section.Stage{}, tt.replacing), tt.cfg)
		if err != nil || b.Object == kept {
			t.Fatalf("build of %+v (replacing %v): %v, same breaker %v; want a new one", tt.cfg, tt.replacing, err, b.Object == kept)
		}
		if got, _ := reg.Lookup(svc); got != kept || got.State() != Open {
			t.Fatal("a build whose reload did not commit changed the registry's breaker")
		}
	}
	// Without a stage (not in a reload), the build puts its breaker in the registry at once.
	b, err = build(env(nil, true), base)
	if got, _ := reg.Lookup(svc); err != nil || got != b.Object || got == kept {
		t.Fatalf("build without a stage: %v, registry holds it %v", err, got == b.Object)
	}
}
