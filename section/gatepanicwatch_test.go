package section_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// panickingConnGate is a ConnGate that reads the clock and panics with "gate boom" as a call
// enters it with the ClientConn (an observer that panicked on the event of an admission or a
// refusal); needsConn makes it an Instant gate whose Enter answers section.ErrNeedsConn, as
// one does for a call whose own option makes it wait.
type panickingConnGate struct{ needsConn bool }

func (g *panickingConnGate) Enter(context.Context, string, []grpc.CallOption) (section.Pass, error) {
	if g.needsConn {
		return section.Pass{}, section.ErrNeedsConn
	}
	return section.Pass{}, nil
}

func (g *panickingConnGate) EnterAt(ctx context.Context, method string, opts []grpc.CallOption, _ time.Time) (section.Pass, error) {
	return g.Enter(ctx, method, opts)
}

func (g *panickingConnGate) EnterConn(context.Context, *grpc.ClientConn, string, []grpc.CallOption) (section.Pass, error) {
	panic("gate boom")
}

func (g *panickingConnGate) EnterConnAt(context.Context, *grpc.ClientConn, string, []grpc.CallOption, time.Time) (section.Pass, error) {
	panic("gate boom")
}

func (g *panickingConnGate) Exit(context.Context, string, []grpc.CallOption, section.Pass, error, bool) {
}

func (g *panickingConnGate) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeConnGate(g, ctx, method, req, reply, cc, opts, next)
}

func (g *panickingConnGate) Instant([]grpc.CallOption) bool { return g.needsConn }

// TestGatePanicTellsTheWatchItLeft: a unary attempt whose gate panics as it waits there (its
// EnterConn or EnterConnAt) tells the attempt's gatewatch.Watch that it left the gate, on the
// panic's way to the caller, as a stream's wait does: every "waiting" has its "left". The
// unary paths told "waiting" alone, and a hedging policy above a recovering interceptor counted
// the attempt waiting for the rest of the call, sending no further hedge.
func TestGatePanicTellsTheWatchItLeft(t *testing.T) {
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	gates := func(g section.Gate) *section.Gates {
		gs, _ := section.NewGates(g)
		return gs
	}
	start := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		call func(opts []grpc.CallOption)
	}{
		{"Gates, EnterConn", func(opts []grpc.CallOption) {
			_ = gates(&panickingConnGate{}).Invoke(context.Background(), nil, "/s.S/M", nil, nil, nil, ok, opts)
		}},
		{"Gates, EnterConnAt", func(opts []grpc.CallOption) {
			_ = gates(&panickingConnGate{}).Invoke(context.Background(), &start, "/s.S/M", nil, nil, nil, ok, opts)
		}},
		{"Gates, ErrNeedsConn", func(opts []grpc.CallOption) {
			_ = gates(&panickingConnGate{needsConn: true}).Invoke(context.Background(), nil, "/s.S/M", nil, nil, nil, ok, opts)
		}},
		{"InvokeConnGate", func(opts []grpc.CallOption) {
			_ = section.InvokeConnGate(&panickingConnGate{}, context.Background(), "/s.S/M", nil, nil, nil, opts, section.NextInvoker(ok))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &watchLog{}
			var x gatewatch.Watch
			x.Set(w, 2)
			func() {
				defer func() {
					if v := recover(); v != "gate boom" {
						t.Errorf("recovered %v, want the gate's panic", v)
					}
				}()
				tc.call([]grpc.CallOption{grpc.EmptyCallOption{}, &x})
			}()
			if want := []string{"waiting 2", "left 2"}; !slices.Equal(w.log, want) {
				t.Errorf("the watch was told %q, want %q", w.log, want)
			}
		})
	}
}
