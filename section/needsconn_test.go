package section_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// needsConnGate is an Instant ConnGate (it lets no call wait of its own) whose Enter and
// EnterAt answer section.ErrNeedsConn, as a bulkhead's or a local limiter's does for a call
// whose own option makes it wait: only EnterConn admits.
type needsConnGate struct {
	how   []string
	got   *grpc.ClientConn
	exits int
}

func (g *needsConnGate) Enter(context.Context, string, []grpc.CallOption) (section.Pass, error) {
	g.how = append(g.how, "Enter")
	return section.Pass{}, section.ErrNeedsConn
}

func (g *needsConnGate) EnterAt(context.Context, string, []grpc.CallOption, time.Time) (section.Pass, error) {
	g.how = append(g.how, "EnterAt")
	return section.Pass{}, section.ErrNeedsConn
}

func (g *needsConnGate) EnterConn(_ context.Context, cc *grpc.ClientConn, _ string, _ []grpc.CallOption) (section.Pass, error) {
	g.how, g.got = append(g.how, "EnterConn"), cc
	return section.Pass{Word: 7}, nil
}

func (g *needsConnGate) EnterConnAt(context.Context, *grpc.ClientConn, string, []grpc.CallOption, time.Time) (section.Pass, error) {
	g.how = append(g.how, "EnterConnAt")
	return section.Pass{}, errors.New("EnterConnAt: the call's start is no use to a gate that waits")
}

func (g *needsConnGate) Exit(_ context.Context, _ string, _ []grpc.CallOption, p section.Pass, _ error, _ bool) {
	if p.Word == 7 {
		g.exits++
	}
}

func (g *needsConnGate) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeConnGate(g, ctx, method, req, reply, cc, opts, next)
}

func (g *needsConnGate) Instant([]grpc.CallOption) bool { return true }

// TestNeedsConnEnteredAgainWithTheClientConn: a gate that a runner enters without the
// ClientConn (Gates decided it does not wait; InvokeGate knows no ClientConn of a gate) and
// that answers section.ErrNeedsConn is entered again with EnterConn, given the call's
// ClientConn, and the call goes on with the Pass EnterConn gave, which Exit gets: the sentinel
// is no refusal, and no grpc.OnFinish callback runs for it. Gates with and without a start
// (the start is not passed on: the gate may wait), and InvokeGate.
func TestNeedsConnEnteredAgainWithTheClientConn(t *testing.T) {
	cc := new(grpc.ClientConn) // never dialed: only its identity is compared
	start := time.Now()
	for _, tc := range []struct {
		name  string
		run   func(g *needsConnGate, next grpc.UnaryInvoker, opts []grpc.CallOption) error
		first string
	}{
		{"Gates", func(g *needsConnGate, next grpc.UnaryInvoker, opts []grpc.CallOption) error {
			gs, _ := section.NewGates(g)
			if gs.Waits(0) {
				t.Fatal("Gates decided that an Instant gate waits")
			}
			return gs.Invoke(context.Background(), nil, "/s/M", nil, nil, cc, next, opts)
		}, "Enter"},
		{"Gates with a start", func(g *needsConnGate, next grpc.UnaryInvoker, opts []grpc.CallOption) error {
			gs, _ := section.NewGates(g)
			return gs.Invoke(context.Background(), &start, "/s/M", nil, nil, cc, next, opts)
		}, "EnterAt"},
		{"InvokeGate", func(g *needsConnGate, next grpc.UnaryInvoker, opts []grpc.CallOption) error {
			return section.InvokeGate(g, context.Background(), "/s/M", nil, nil, cc, opts, section.NextInvoker(next))
		}, "Enter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &needsConnGate{}
			calls, finished := 0, 0
			next := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				calls++
				return nil
			}
			opts := []grpc.CallOption{grpc.OnFinish(func(error) { finished++ })}
			if err := tc.run(g, next, opts); err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if want := []string{tc.first, "EnterConn"}; !slices.Equal(g.how, want) {
				t.Errorf("entries %v, want %v", g.how, want)
			}
			if g.got != cc {
				t.Errorf("EnterConn was given %p, want the call's ClientConn %p", g.got, cc)
			}
			if calls != 1 || g.exits != 1 {
				t.Errorf("next ran %d times, Exit with EnterConn's Pass %d times, want 1 and 1", calls, g.exits)
			}
			if finished != 0 {
				t.Errorf("OnFinish ran %d times for an admitted call the invoker did not finish, want 0", finished)
			}
		})
	}
}
