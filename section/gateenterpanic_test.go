package section_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// enterPanicGate is a testkit.Gate whose Enter panics once it has logged, as the Enter of a
// gate whose Rejected reaches a sink that panics does.
type enterPanicGate struct{ testkit.Gate }

func (g *enterPanicGate) Enter(ctx context.Context, method string, opts []grpc.CallOption) (section.Pass, error) {
	_, _ = g.Gate.Enter(ctx, method, opts)
	panic("enter " + g.Name)
}

// A gate whose Enter panics keeps the call from next, and so from grpc, which would have run
// the call's grpc.OnFinish callbacks: Gates runs them once with calloption.ErrPanicked, the
// gates entered before it exit as panicked, and the panic goes on; also when the gate is the
// first, with no gate entered.
func TestGatesEnterPanicRunsOnFinish(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{name: "first", want: []string{"enter p"}},
		{name: "second", want: []string{"enter a", "enter p", "exit a pass=1 err=<nil> panicked=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := new(testkit.GateLog)
			p := &enterPanicGate{testkit.Gate{Name: "p", ID: 2, Log: log}}
			gs := []section.Gate{p, &testkit.Gate{Name: "c", ID: 3, Log: log}}
			if tc.name == "second" {
				gs = append([]section.Gate{&testkit.Gate{Name: "a", ID: 1, Log: log}}, gs...)
			}
			g, _ := section.NewGates(gs...)
			var finished []error
			opts := []grpc.CallOption{grpc.OnFinish(func(err error) { finished = append(finished, err) })}
			panicked, _ := panics(func() error {
				return g.Invoke(context.Background(), nil, "/s/M", nil, nil, nil, restOf(log, func() error { return nil }), opts)
			})
			if !panicked {
				t.Error("the Enter's panic did not go on")
			}
			if len(finished) != 1 || !errors.Is(finished[0], calloption.ErrPanicked) {
				t.Errorf("OnFinish ran with %v, want once with calloption.ErrPanicked", finished)
			}
			if got := log.Lines(); !slices.Equal(got, tc.want) {
				t.Errorf("gates saw %q, want %q", got, tc.want)
			}
		})
	}
}
