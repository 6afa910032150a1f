package section_test

import (
	"context"
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// countingRunner is a chain's runner that records the step it is asked to run.
type countingRunner struct{ steps []int }

func (r *countingRunner) RunStep(i int, _ context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ []grpc.CallOption) error {
	r.steps = append(r.steps, i)
	return nil
}

// Next continues with the runner's step it names, or with an invoker, passing the call on
// unchanged and without allocating.
func TestNextInvokesStepOrInvoker(t *testing.T) {
	r := &countingRunner{steps: make([]int, 0, 4)}
	if err := section.NextStep(r, 3).Invoke(context.Background(), "/s/M", nil, nil, nil, nil); err != nil || len(r.steps) != 1 || r.steps[0] != 3 {
		t.Fatalf("NextStep(r, 3).Invoke = %v, runner ran %v; want step 3", err, r.steps)
	}
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	var got string
	inv := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		got = method + " " + ctx.Value(key{}).(string)
		return nil
	}
	if err := section.NextInvoker(inv).Invoke(ctx, "/s/M", nil, nil, nil, nil); err != nil || got != "/s/M v" {
		t.Fatalf("NextInvoker(inv).Invoke = %v, invoker saw %q; want /s/M v", err, got)
	}
	calls := 0
	quiet := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		calls++
		return nil
	}
	if n := testing.AllocsPerRun(100, func() { _ = section.NextInvoker(quiet).Invoke(ctx, "/s/M", nil, nil, nil, nil) }); n != 0 {
		t.Errorf("NextInvoker(inv).Invoke allocates %v times, want 0", n)
	}
}

// A stage holds the changes registered with OnCommit until Commit, which runs them in order,
// once; a nil stage (no reload to wait for) runs them at once. Load finds what Store kept.
func TestStageDefersUntilCommit(t *testing.T) {
	var ran []int
	var none *section.Stage
	none.OnCommit(func() { ran = append(ran, 0) })
	none.Store("k", 1)
	if _, ok := none.Load("k"); ok || len(ran) != 1 {
		t.Fatalf("nil stage: ran %v, Load found a value %v; want the change run at once, nothing kept", ran, ok)
	}

	st := &section.Stage{}
	st.OnCommit(func() { ran = append(ran, 1) })
	st.OnCommit(func() { ran = append(ran, 2) })
	type key struct{ name string }
	st.Store(key{"a"}, 7)
	if v, ok := st.Load(key{"a"}); !ok || v != 7 {
		t.Fatalf("Load after Store = %v, %v; want 7", v, ok)
	}
	if _, ok := st.Load(key{"b"}); ok {
		t.Fatal("Load found a key never stored")
	}
	if len(ran) != 1 {
		t.Fatalf("changes ran before Commit: %v", ran)
	}
	st.Commit()
	if len(ran) != 3 || ran[1] != 1 || ran[2] != 2 {
		t.Fatalf("after Commit ran %v, want [0 1 2]", ran)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a second Commit did not panic")
		}
	}()
	st.Commit()
}

// TestStageCommitRunsEveryPublishWhenOnePanics: a publish func that panics (a third-party
// section's) kept the ones registered after it from running, which left the stores outside the
// suite partly changed; Commit now runs them all, then panics with the first one's value.
func TestStageCommitRunsEveryPublishWhenOnePanics(t *testing.T) {
	st := &section.Stage{}
	var ran []int
	st.OnCommit(func() { ran = append(ran, 1) })
	st.OnCommit(func() { ran = append(ran, 2); panic("first") })
	st.OnCommit(func() { ran = append(ran, 3); panic("second") })
	st.OnCommit(func() { ran = append(ran, 4) })
	got := func() (r any) {
		defer func() { r = recover() }()
		st.Commit()
		return nil
	}()
	if got != "first" {
		t.Errorf("Commit panicked with %v, want the first publish's value %q", got, "first")
	}
	if want := []int{1, 2, 3, 4}; !slices.Equal(ran, want) {
		t.Errorf("publish funcs run: %v, want %v (every one, in order)", ran, want)
	}
}
