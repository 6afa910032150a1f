package breaker

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
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

// A suite's breaker of one method (scope method, or a method with a breaker of its own) is
// named by its full method; its state changes and rejections carry that method, as its Levels
// do, so that an observer tells it from its service's breaker (promobs' state set and the
// otelobs tracer key breakers by service and method).
func TestSectionMethodBreakerEventsNameTheMethod(t *testing.T) {
	const method = "/" + svc + "/Compare"
	clk := clocktest.New(time.Time{})
	rec := new(testkit.Recorder)
	built, err := build(&section.Env{
		Service: svc, FullMethod: method, Name: method, Classifier: codes.Default(), Clock: clk, Sink: rec,
		Values: map[reflect.Type]any{reflect.TypeFor[*Registry](): &Registry{}},
	}, Config{Scope: ScopeMethod, ConsecutiveFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := built.Object.(*Breaker)
	_ = b.Execute(func() error { return errFail })
	if _, err := b.Allow(); err == nil {
		t.Fatal("Allow admitted a call on an open breaker")
	}
	var lv observe.Level
	b.Levels(func(l observe.Level) bool { lv = l; return false })
	if lv.Service != svc || lv.Method != method {
		t.Fatalf("level service %q method %q, want %q %q", lv.Service, lv.Method, svc, method)
	}
	for _, kind := range []observe.Kind{observe.BreakerStateChanged, observe.Rejected} {
		evs := rec.Events(kind)
		if len(evs) != 1 || evs[0].Service != lv.Service || evs[0].Method != lv.Method {
			t.Fatalf("%v events %+v, want one naming service %q and method %q, as the level does", kind, evs, lv.Service, lv.Method)
		}
	}
}
