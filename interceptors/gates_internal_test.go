package interceptors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// gateChain returns a chain of steps for the runner: a testkit.Gate named by each "g" entry,
// and an interceptor step for "ic", which logs around its invoker. No attempt loop, no sink.
func gateChain(log *testkit.GateLog, refuse map[string]error, names ...string) *unaryChain {
	steps := make([]unaryStep, 0, len(names))
	for i, n := range names {
		if n == "ic" {
			steps = append(steps, unaryStep{ic: func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				log.Add("ic before")
				err := invoker(ctx, method, req, reply, cc, opts...)
				log.Add("ic after")
				return err
			}})
			continue
		}
		g := &testkit.Gate{Name: n, ID: uint64(i + 1), Log: log, Refuse: refuse[n]}
		steps = append(steps, unaryStep{flat: g, gate: g})
	}
	return newUnaryChain(steps, 0, clock.Real, &chain{})
}

// The runner runs a run of gates in one frame with the behaviour of nested InvokeSteps: it
// enters them in order, continues once, exits them in reverse order with the call's outcome
// and each its own Pass; a refusal exits the gates before it with its error and goes no
// further; a panic exits every gate entered as panicked and goes on. Runs longer than
// maxGates, and gates around an interceptor step, keep that order.
func TestRunnerRunsGatesAsNested(t *testing.T) {
	errRefused, errCall := errors.New("refused"), errors.New("call failed")
	many := []string{"g1", "g2", "g3", "g4", "g5", "g6"}
	if len(many) <= maxGates {
		t.Fatalf("the test wants a run longer than maxGates (%d)", maxGates)
	}
	exits := func(err string, panicked bool, names ...string) []string {
		var out []string
		for i := len(names) - 1; i >= 0; i-- {
			out = append(out, fmt.Sprintf("exit %s pass=%d err=%s panicked=%v", names[i], slices.Index(many, names[i])+1, err, panicked))
		}
		return out
	}
	enters := func(names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = "enter " + n
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		steps   []string
		refuse  map[string]error
		invoke  func() error
		wantErr error
		panics  bool
		want    []string
	}{
		{
			name: "a long run", steps: many, invoke: func() error { return errCall }, wantErr: errCall,
			want: slices.Concat(enters(many...), []string{"invoke"}, exits("call failed", false, many...)),
		},
		{
			name: "a refusal", steps: many[:3], refuse: map[string]error{"g2": errRefused},
			invoke: func() error { return nil }, wantErr: errRefused,
			want: slices.Concat([]string{"enter g1", "enter g2 refused"}, exits("refused", false, "g1")),
		},
		{
			name: "the invoker panics", steps: many, invoke: func() error { panic("boom") }, panics: true,
			want: slices.Concat(enters(many...), []string{"invoke"}, exits("<nil>", true, many...)),
		},
		{
			name: "around an interceptor", steps: []string{"g1", "ic", "g3"}, invoke: func() error { return nil },
			want: []string{"enter g1", "ic before", "enter g3", "invoke", "exit g3 pass=3 err=<nil> panicked=false", "ic after", "exit g1 pass=1 err=<nil> panicked=false"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := new(testkit.GateLog)
			uc := gateChain(log, tc.refuse, tc.steps...)
			inv := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				log.Add("invoke")
				return tc.invoke()
			}
			var (
				n   int
				err error
			)
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				r := uc.runner(time.Time{}, nil)
				err = r.do(context.Background(), "/s/M", nil, nil, nil, inv, nil)
				n = int(r.attempts.Load())
				r.done()
				return false
			}()
			if panicked != tc.panics || (!tc.panics && !errors.Is(err, tc.wantErr)) {
				t.Errorf("run = %v, panicked %v; want %v, panicked %v", err, panicked, tc.wantErr, tc.panics)
			}
			if !tc.panics && n != 1 {
				t.Errorf("run counted %d attempts, want 1", n)
			}
			if got := log.Lines(); !slices.Equal(got, tc.want) {
				t.Errorf("steps saw\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
