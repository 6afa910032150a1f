package breaker

import (
	"sync"
	"testing"
	"time"
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
