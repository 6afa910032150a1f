package breaker

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// readLevels collects what src yields.
func readLevels(src observe.LevelSource) []observe.Level {
	var out []observe.Level
	src.Levels(func(l observe.Level) bool {
		out = append(out, l)
		return true
	})
	return out
}

func TestBreakerLevelsFollowState(t *testing.T) {
	b, clk, _ := newTest(t, Config{ConsecutiveFailures: 2})
	want := func(state string) {
		t.Helper()
		got := readLevels(b)
		w := observe.Level{Kind: observe.LevelBreakerState, Policy: observe.PolicyBreaker, Service: svc, State: state}
		if len(got) != 1 || got[0] != w {
			t.Fatalf("levels = %+v, want [%+v]", got, w)
		}
	}
	want("closed")
	trip(t, b, clk)
	want("open")
	// Reading is reading the state now: the recovery timeout has passed, so it is half-open,
	// with no call and no other read in between.
	clk.Advance(b.Config().RecoveryTimeout)
	want("half_open")
	b.ForceOpen()
	want("forced_open")
	b.Disable()
	want("disabled")
}

func TestRegistryLevelsNameServiceAndMethod(t *testing.T) {
	var reg Registry
	bySvc, err := UnaryClientInterceptor(Config{ConsecutiveFailures: 1}, WithRegistry(&reg))
	if err != nil {
		t.Fatal(err)
	}
	byMethod, err := UnaryClientInterceptor(Config{ConsecutiveFailures: 1, Scope: ScopeMethod}, WithRegistry(&reg))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return errFail }
	_ = bySvc(context.Background(), "/kyc.v1.LivenessService/Check", nil, nil, nil, fail)
	_ = byMethod(context.Background(), "/kyc.v1.OCRService/Extract", nil, nil, nil, fail)

	got := map[[2]string]string{}
	for _, l := range readLevels(&reg) {
		if l.Kind != observe.LevelBreakerState || l.Policy != observe.PolicyBreaker {
			t.Fatalf("level %+v: want a breaker state", l)
		}
		got[[2]string{l.Service, l.Method}] = l.State
	}
	want := map[[2]string]string{
		{"kyc.v1.LivenessService", ""}:                      "open",
		{"kyc.v1.OCRService", "/kyc.v1.OCRService/Extract"}: "open",
	}
	if len(got) != len(want) {
		t.Fatalf("levels = %v, want %v", got, want)
	}
	for k, s := range want {
		if got[k] != s {
			t.Fatalf("levels = %v, want %v", got, want)
		}
	}

	// A breaker the registry forgets is no longer read.
	reg.Delete("kyc.v1.LivenessService")
	if got := readLevels(&reg); len(got) != 1 || got[0].Method != "/kyc.v1.OCRService/Extract" {
		t.Fatalf("after Delete, levels = %+v", got)
	}
}

// A breaker named by a full method reads that method and its service, however it was made:
// as a suite makes it (WithService, no method) or with New alone.
func TestLevelsOfABreakerNamedByMethod(t *testing.T) {
	const method = "/kyc.v1.OCRService/Extract"
	for name, opts := range map[string][]Option{
		"with its service": {WithService("kyc.v1.OCRService")},
		"name alone":       nil,
	} {
		t.Run(name, func(t *testing.T) {
			var reg Registry
			if _, err := reg.Get(method, Config{}, opts...); err != nil {
				t.Fatal(err)
			}
			got := readLevels(&reg)
			want := observe.Level{Kind: observe.LevelBreakerState, Policy: observe.PolicyBreaker, Service: "kyc.v1.OCRService", Method: method, State: "closed"}
			if len(got) != 1 || got[0] != want {
				t.Fatalf("levels = %+v, want [%+v]", got, want)
			}
		})
	}
}

func TestRegistryLevelsStopsWhenYieldSaysSo(t *testing.T) {
	reg := threeBreakers(t)
	calls := 0
	reg.Levels(func(observe.Level) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("yield called %d times after returning false, want 1", calls)
	}
	if n := len(readLevels(reg)); n != 3 {
		t.Fatalf("%d levels, want 3", n)
	}
}

func TestLevelsDoNotAllocate(t *testing.T) {
	reg := threeBreakers(t)
	b, _ := reg.Lookup("a.Svc")
	var n int
	count := func(observe.Level) bool { n++; return true }
	for name, src := range map[string]observe.LevelSource{"breaker": b, "registry": reg} {
		if a := testing.AllocsPerRun(100, func() { src.Levels(count) }); a != 0 {
			t.Errorf("%s: %v allocations per Levels, want 0", name, a)
		}
	}
	if n == 0 {
		t.Fatal("nothing was read")
	}
}

// threeBreakers returns a registry holding the breakers a.Svc, b.Svc and c.Svc.
func threeBreakers(t *testing.T) *Registry {
	t.Helper()
	reg := new(Registry)
	for _, n := range []string{"a.Svc", "b.Svc", "c.Svc"} {
		if _, err := reg.Get(n, Config{}); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}
