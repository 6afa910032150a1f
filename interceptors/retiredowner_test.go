package interceptors_test

import (
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Two suites with observers of their own share a breaker registry; the first makes the
// breaker of test.v1.Pub (its observer got the BreakerPublished and gets its changes), the
// second takes it. The maker lets it go first (Close, or a reload without it), the other holds
// it, then lets it go too, and so retires it (a reload that replaces it, or its Close once Get
// replaced it). Its Retired went to the other suite's observer, which never got its
// BreakerPublished, or to none when that suite has no observer: the maker's observer kept
// exporting a dead breaker. It goes to the breaker's own observer, once, at the time the
// suite's path gives it (a reload's time; a Close's, the breaker's last change).
func TestSharedBreakerRetiredToItsMakersObserver(t *testing.T) {
	const name = "test.v1.Pub"
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		makerCloses bool // else the maker reloads without the breaker
		getReplaces bool // Get replaces the breaker before the maker lets it go
		otherCloses bool // else the other suite's reload replaces it (other settings)
		otherSink   bool // the other suite has an observer
		wantAtNow   bool // the Retired is at the clock's now (a reload's time), else at the zero Time (Close, no change)
	}{
		{name: "maker closes, other reloads", makerCloses: true, otherSink: true, wantAtNow: true},
		{name: "maker reloads, other reloads", otherSink: true, wantAtNow: true},
		{name: "maker closes, other without observer reloads", makerCloses: true, wantAtNow: true},
		{name: "Get replaces, maker closes, other closes", makerCloses: true, getReplaces: true, otherCloses: true, otherSink: true},
		{name: "Get replaces, maker reloads, other without observer closes", getReplaces: true, otherCloses: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(start)
			reg := breaker.NewRegistry()
			recA, recB := &testkit.Recorder{}, &testkit.Recorder{}
			a := sharingSuite(t, clk, reg, "", recA)
			var sinkB *testkit.Recorder
			if tc.otherSink {
				sinkB = recB
			}
			b := sharingSuite(t, clk, reg, "", sinkB)
			made, _ := reg.Lookup(name)
			if n, _ := retiredOf(recA, made.Instance()); publishedAt(recA, made.Instance()) < 0 || n != 0 {
				t.Fatalf("the maker's observer: BreakerPublished at %d and %d Retired of the shared breaker, want one and none",
					publishedAt(recA, made.Instance()), n)
			}
			if tc.getReplaces {
				if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk)); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(time.Second)
			var err error
			if tc.makerCloses {
				err = a.Close()
			} else {
				err = a.Reload(&config.Config{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := retiredOf(recA, made.Instance()); n != 0 {
				t.Fatalf("the maker let go a breaker the other suite holds: %d Retired, want 0", n)
			}
			clk.Advance(time.Second)
			wantAt := time.Time{}
			if tc.wantAtNow {
				wantAt = clk.Now()
			}
			if tc.otherCloses {
				err = b.Close()
			} else {
				err = b.Reload(publishedCfg(t, "3", ""))
			}
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := retiredOf(recB, made.Instance()); n != 0 {
				t.Errorf("the other suite's observer, which never got the breaker's BreakerPublished, got %d Retired of it, want 0", n)
			}
			n, i := retiredOf(recA, made.Instance())
			if n != 1 {
				t.Fatalf("the maker's observer got %d Retired of the breaker it published, want 1", n)
			}
			if e := recA.Events()[i]; e.Service != name || e.Policy != observe.PolicyBreaker || !e.Time.Equal(wantAt) {
				t.Errorf("the maker's observer got %+v, want the Retired of breaker %s at %v", e, name, wantAt)
			}
		})
	}
}

// The bulkheads and throttles a suite retires are its own: their Retired stays on the suite's
// observer, while a shared breaker's goes to its maker's.
func TestSharedBreakerRetiredOwnerBulkheadStaysOnSuite(t *testing.T) {
	const name = "test.v1.Pub"
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	recA, recB := &testkit.Recorder{}, &testkit.Recorder{}
	a := sharingSuite(t, clk, reg, "", recA)
	b := sharingSuite(t, clk, reg, "  test.v1.Bh: {profile: p, bulkhead: {max_concurrent: 2}, methods: {Do: {}}}\n", recB)
	made, _ := reg.Lookup(name)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := retiredOf(recA, made.Instance()); n != 1 {
		t.Errorf("the maker's observer got %d Retired of its breaker, want 1", n)
	}
	var bulkheads int
	for _, e := range recB.Events(observe.Retired) {
		switch {
		case e.Policy == observe.PolicyBulkhead && e.Service == "test.v1.Bh":
			bulkheads++
		case e.Instance == made.Instance():
			t.Errorf("the other suite's observer got %+v, the Retired of a breaker it never saw published", e)
		}
	}
	if bulkheads != 1 {
		t.Errorf("the closing suite's observer got %d Retired of its bulkhead, want 1", bulkheads)
	}
}

// The two suites let the shared breaker go (Close) while the registry's Get replaces it: the
// registry or the last suite holding it retires it, whichever the race makes last, and its
// maker's observer gets its Retired once, the other suite's none.
func TestSharedBreakerRetiredOnceRacingTheRegistry(t *testing.T) {
	const name = "test.v1.Pub"
	for i := range 10 {
		clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		reg := breaker.NewRegistry()
		recA, recB := &testkit.Recorder{}, &testkit.Recorder{}
		var suites []*interceptors.Suite
		for _, rec := range []*testkit.Recorder{recA, recB} {
			s, err := interceptors.New(publishedCfg(t, "2", ""), interceptors.WithObserver(rec),
				interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
			if err != nil {
				t.Fatal(err)
			}
			suites = append(suites, s)
		}
		made, _ := reg.Lookup(name)
		var wg sync.WaitGroup
		start := make(chan struct{})
		run := func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f()
			}()
		}
		for _, s := range suites {
			run(func() { _ = s.Close() })
		}
		run(func() { _, _ = reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk)) })
		close(start)
		wg.Wait()
		if n, _ := retiredOf(recA, made.Instance()); n != 1 {
			t.Errorf("round %d: the maker's observer got %d Retired of its breaker, want 1", i, n)
		}
		if n, _ := retiredOf(recB, made.Instance()); n != 0 {
			t.Errorf("round %d: the other suite's observer got %d Retired of a breaker it never saw published, want 0", i, n)
		}
	}
}
