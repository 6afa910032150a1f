package section_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// clockedGate is a testkit.Gate that reads the clock (section.Clocked), logging the time it
// is given, and says whether it is instant (section.Instant).
type clockedGate struct {
	testkit.Gate
	instant bool
}

func (g *clockedGate) EnterAt(ctx context.Context, method string, opts []grpc.CallOption, now time.Time) (section.Pass, error) {
	g.Log.Add(fmt.Sprintf("%s at %d", g.Name, now.Unix()))
	return g.Enter(ctx, method, opts)
}

func (g *clockedGate) Instant([]grpc.CallOption) bool { return g.instant }

// instantGate is a testkit.Gate that says whether it is instant.
type instantGate struct {
	testkit.Gate
	instant bool
}

func (g *instantGate) Instant([]grpc.CallOption) bool { return g.instant }

// Gates runs its gates in one frame as nested InvokeGates would: entered in order, exited in
// reverse with the outcome (a refusal's error for the gates before it), as panicked when the
// rest panics. A gate that reads the clock takes the start it is given while the gates before
// it admitted at once, and reads the clock itself otherwise.
func TestGatesInvoke(t *testing.T) {
	errRest, errRefused := errors.New("rest failed"), errors.New("refused")
	start := time.Unix(100, 0)
	for _, tc := range []struct {
		name    string
		gates   func(*testkit.GateLog) []section.Gate
		start   *time.Time
		ended   bool // the caller's context has ended before the call
		rest    func() error
		wantErr error
		panics  bool
		want    []string
	}{
		{
			name: "admitted, start taken past an instant gate", start: &start, rest: func() error { return errRest }, wantErr: errRest,
			gates: func(l *testkit.GateLog) []section.Gate {
				return []section.Gate{
					&instantGate{Gate: testkit.Gate{Name: "a", ID: 1, Log: l}, instant: true},
					&clockedGate{Gate: testkit.Gate{Name: "b", ID: 2, Log: l}},
					&testkit.Gate{Name: "c", ID: 3, Log: l},
				}
			},
			want: []string{"enter a", "b at 100", "enter b", "enter c", "rest",
				"exit c pass=3 err=rest failed panicked=false", "exit b pass=2 err=rest failed panicked=false", "exit a pass=1 err=rest failed panicked=false"},
		},
		{
			name: "no start past a gate that may wait", start: &start, rest: func() error { return nil },
			gates: func(l *testkit.GateLog) []section.Gate {
				return []section.Gate{
					&instantGate{Gate: testkit.Gate{Name: "a", ID: 1, Log: l}, instant: false},
					&clockedGate{Gate: testkit.Gate{Name: "b", ID: 2, Log: l}},
				}
			},
			want: []string{"enter a", "enter b", "rest", "exit b pass=2 err=<nil> panicked=false", "exit a pass=1 err=<nil> panicked=false"},
		},
		{
			name: "no start given", rest: func() error { return nil },
			gates: func(l *testkit.GateLog) []section.Gate {
				return []section.Gate{&clockedGate{Gate: testkit.Gate{Name: "b", ID: 2, Log: l}}}
			},
			want: []string{"enter b", "rest", "exit b pass=2 err=<nil> panicked=false"},
		},
		{
			name: "refused", start: &start, rest: func() error { return nil }, wantErr: errRefused,
			gates: func(l *testkit.GateLog) []section.Gate {
				return []section.Gate{
					&testkit.Gate{Name: "a", ID: 1, Log: l},
					&testkit.Gate{Name: "b", ID: 2, Log: l, Refuse: errRefused},
					&testkit.Gate{Name: "c", ID: 3, Log: l},
				}
			},
			want: []string{"enter a", "enter b refused", "exit a pass=1 err=refused panicked=false"},
		},
		{
			name: "rest panics", rest: func() error { panic("boom") }, panics: true,
			gates: func(l *testkit.GateLog) []section.Gate {
				return []section.Gate{&testkit.Gate{Name: "a", ID: 1, Log: l}, &testkit.Gate{Name: "b", ID: 2, Log: l}}
			},
			want: []string{"enter a", "enter b", "rest", "exit b pass=2 err=<nil> panicked=true", "exit a pass=1 err=<nil> panicked=true"},
		},
		{
			name: "context ended before the call: past every gate", start: &start, ended: true,
			rest: func() error { return errRest }, wantErr: errRest,
			gates: func(l *testkit.GateLog) []section.Gate {
				return []section.Gate{&clockedGate{Gate: testkit.Gate{Name: "a", ID: 1, Log: l}}, &testkit.Gate{Name: "b", ID: 2, Log: l}}
			},
			want: []string{"rest"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := new(testkit.GateLog)
			g, ok := section.NewGates(tc.gates(log)...)
			if !ok {
				t.Fatal("NewGates refused the gates")
			}
			panicked, err := panics(func() error {
				return g.Invoke(callContext(t, tc.ended), tc.start, "/s/M", nil, nil, nil, restOf(log, tc.rest), nil)
			})
			if panicked != tc.panics || (!tc.panics && !errors.Is(err, tc.wantErr)) {
				t.Errorf("Invoke = %v, panicked %v; want %v, panicked %v", err, panicked, tc.wantErr, tc.panics)
			}
			if got := log.Lines(); !slices.Equal(got, tc.want) {
				t.Errorf("gates saw %q, want %q", got, tc.want)
			}
		})
	}
}

// exitPanicGate is a testkit.Gate whose Exit panics once it has logged, as the Exit of a gate
// whose event reaches a sink that panics does (an adaptive bulkhead's LimitChanged).
type exitPanicGate struct{ testkit.Gate }

func (g *exitPanicGate) Exit(ctx context.Context, method string, opts []grpc.CallOption, p section.Pass, err error, panicked bool) {
	g.Gate.Exit(ctx, method, opts, p, err, panicked)
	panic("exit " + g.Name)
}

func (g *exitPanicGate) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeGate(g, ctx, method, req, reply, cc, opts, next)
}

// A gate's Exit that panics does in a Gates what it does in nested InvokeGates: the gates
// entered before it exit as panicked (a breaker gets its half-open probe's slot back), none
// exits twice, and the panic goes on; also when the rest panicked first, and the gate's Exit
// panics as it exits as panicked.
func TestGatesExitPanicExitsTheGatesBefore(t *testing.T) {
	run := func(nested bool, rest func() error) []string {
		log := new(testkit.GateLog)
		gs := []section.Gate{
			&testkit.Gate{Name: "a", ID: 1, Log: log},
			&testkit.Gate{Name: "b", ID: 2, Log: log},
			&exitPanicGate{testkit.Gate{Name: "c", ID: 3, Log: log}},
			&testkit.Gate{Name: "d", ID: 4, Log: log},
		}
		next := restOf(log, rest)
		panicked, _ := panics(func() error {
			if !nested {
				g, _ := section.NewGates(gs...)
				return g.Invoke(context.Background(), nil, "/s/M", nil, nil, nil, next, nil)
			}
			n := section.NextInvoker(next)
			for i := len(gs) - 1; i > 0; i-- {
				g, after := gs[i], n
				n = section.NextInvoker(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
					return g.InvokeStep(ctx, method, req, reply, cc, opts, after)
				})
			}
			return gs[0].InvokeStep(context.Background(), "/s/M", nil, nil, nil, nil, n)
		})
		if !panicked {
			t.Errorf("nested %v: the panic did not go on", nested)
		}
		return log.Lines()
	}
	for _, tc := range []struct {
		name string
		rest func() error
		want []string
	}{
		{
			name: "the rest returns", rest: func() error { return nil },
			want: []string{"enter a", "enter b", "enter c", "enter d", "rest",
				"exit d pass=4 err=<nil> panicked=false", "exit c pass=3 err=<nil> panicked=false",
				"exit b pass=2 err=<nil> panicked=true", "exit a pass=1 err=<nil> panicked=true"},
		},
		{
			name: "the rest panics", rest: func() error { panic("rest") },
			want: []string{"enter a", "enter b", "enter c", "enter d", "rest",
				"exit d pass=4 err=<nil> panicked=true", "exit c pass=3 err=<nil> panicked=true",
				"exit b pass=2 err=<nil> panicked=true", "exit a pass=1 err=<nil> panicked=true"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, nested := range []bool{true, false} {
				if got := run(nested, tc.rest); !slices.Equal(got, tc.want) {
					t.Errorf("nested %v: the gates saw\n%q\nwant\n%q", nested, got, tc.want)
				}
			}
		})
	}
}

// A Gates holds at most MaxGates gates: a longer run is split by its maker.
func TestNewGatesRefusesTooMany(t *testing.T) {
	gs := make([]section.Gate, section.MaxGates+1)
	for i := range gs {
		gs[i] = &testkit.Gate{Name: fmt.Sprint(i), Log: new(testkit.GateLog)}
	}
	if _, ok := section.NewGates(gs...); ok {
		t.Errorf("NewGates took %d gates, more than MaxGates (%d)", len(gs), section.MaxGates)
	}
	if _, ok := section.NewGates(gs[:section.MaxGates]...); !ok {
		t.Errorf("NewGates refused MaxGates gates")
	}
}

// GRPCOptions tells a call's options that no gate reads (grpc's own) from those a gate may.
func TestGRPCOptions(t *testing.T) {
	var md metadata.MD
	own := []grpc.CallOption{grpc.StaticMethod(), grpc.Header(&md), grpc.Trailer(&md), grpc.WaitForReady(true),
		grpc.MaxCallRecvMsgSize(1), grpc.MaxCallSendMsgSize(1), grpc.CallContentSubtype("proto"), grpc.OnFinish(func(error) {})}
	if !section.GRPCOptions(nil) || !section.GRPCOptions(own) {
		t.Errorf("GRPCOptions(%T) = false, want true", own)
	}
	type gateOption struct{ grpc.EmptyCallOption }
	if section.GRPCOptions(append(own, gateOption{})) {
		t.Error("GRPCOptions took an option of another package for grpc's")
	}
}

// A call a gate refuses never reaches next, nor grpc, which runs the call's grpc.OnFinish
// callbacks once it ends: Gates runs them once with the refusal. A call next takes is left to
// next (grpc) alone.
func TestGatesRunOnFinishOfARefusedCall(t *testing.T) {
	errRefused := errors.New("refused")
	for _, refuse := range []bool{false, true} {
		var l testkit.GateLog
		a := &testkit.Gate{Name: "a", ID: 1, Log: &l}
		b := &testkit.Gate{Name: "b", ID: 2, Log: &l}
		if refuse {
			b.Refuse = errRefused
		}
		g, _ := section.NewGates(a, b)
		var got []error
		opts := []grpc.CallOption{grpc.OnFinish(func(err error) { got = append(got, err) })}
		next := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
		err := g.Invoke(context.Background(), nil, "/s/M", nil, nil, nil, next, opts)
		switch {
		case refuse && (err != errRefused || !slices.Equal(got, []error{errRefused})):
			t.Errorf("refused: Invoke = %v, OnFinish ran with %v; want it once with the refusal", err, got)
		case !refuse && (err != nil || len(got) != 0):
			t.Errorf("admitted: Invoke = %v, OnFinish ran with %v; want it left to next", err, got)
		}
	}
}

// InvokeGate, a gate's interceptor on its own, runs the grpc.OnFinish callbacks of a call the
// gate refuses once, with the refusal, as Gates does.
func TestInvokeGateRunsOnFinishOfARefusedCall(t *testing.T) {
	errRefused := errors.New("refused")
	var l testkit.GateLog
	g := &testkit.Gate{Name: "a", ID: 1, Log: &l, Refuse: errRefused}
	var got []error
	opts := []grpc.CallOption{grpc.OnFinish(func(err error) { got = append(got, err) })}
	next := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		t.Fatal("next reached past a refusal")
		return nil
	}
	err := section.InvokeGate(g, context.Background(), "/s/M", nil, nil, nil, opts, section.NextInvoker(next))
	if err != errRefused || !slices.Equal(got, []error{errRefused}) {
		t.Errorf("InvokeGate = %v, OnFinish ran with %v; want it once with the refusal", err, got)
	}
}
