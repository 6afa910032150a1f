package section_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// connGate is a gate that records the ClientConn each of its entries was given: Enter records
// none (a nil).
type connGate struct {
	got []*grpc.ClientConn
	how []string
}

func (g *connGate) Enter(context.Context, string, []grpc.CallOption) (section.Pass, error) {
	g.got, g.how = append(g.got, nil), append(g.how, "Enter")
	return section.Pass{}, nil
}

func (g *connGate) EnterConn(_ context.Context, cc *grpc.ClientConn, _ string, _ []grpc.CallOption) (section.Pass, error) {
	g.got, g.how = append(g.got, cc), append(g.how, "EnterConn")
	return section.Pass{}, nil
}

func (g *connGate) Exit(context.Context, string, []grpc.CallOption, section.Pass, error, bool) {}

func (g *connGate) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeConnGate(g, ctx, method, req, reply, cc, opts, next)
}

func (g *connGate) Instant([]grpc.CallOption) bool { return false }

// clockedConnGate is a connGate that reads the clock (section.ClockedConn).
type clockedConnGate struct{ connGate }

func (g *clockedConnGate) EnterAt(context.Context, string, []grpc.CallOption, time.Time) (section.Pass, error) {
	g.got, g.how = append(g.got, nil), append(g.how, "EnterAt")
	return section.Pass{}, nil
}

func (g *clockedConnGate) EnterConnAt(_ context.Context, cc *grpc.ClientConn, _ string, _ []grpc.CallOption, _ time.Time) (section.Pass, error) {
	g.got, g.how = append(g.got, cc), append(g.how, "EnterConnAt")
	return section.Pass{}, nil
}

// TestConnGateGivenTheClientConn: every runner enters a ConnGate with the call's ClientConn
// (EnterConn, or EnterConnAt for one that reads the clock, given the call's start), so that
// a wait in it can end at the ClientConn's shutdown: Gates, with and without a start,
// Interceptor, and Judged's step.
func TestConnGateGivenTheClientConn(t *testing.T) {
	cc := new(grpc.ClientConn) // never dialed: only its identity is compared
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	start := time.Now()
	for _, tc := range []struct {
		name    string
		clocked bool
		run     func(g section.Gate) error
		want    string
	}{
		{"Gates", false, func(g section.Gate) error {
			gs, _ := section.NewGates(g)
			return gs.Invoke(context.Background(), nil, "/s/M", nil, nil, cc, ok, nil)
		}, "EnterConn"},
		{"Gates with a start", false, func(g section.Gate) error {
			gs, _ := section.NewGates(g)
			return gs.Invoke(context.Background(), &start, "/s/M", nil, nil, cc, ok, nil)
		}, "EnterConn"},
		{"Gates with a start, clocked", true, func(g section.Gate) error {
			gs, _ := section.NewGates(g)
			return gs.Invoke(context.Background(), &start, "/s/M", nil, nil, cc, ok, nil)
		}, "EnterConnAt"},
		{"Gates without a start, clocked", true, func(g section.Gate) error {
			gs, _ := section.NewGates(g)
			return gs.Invoke(context.Background(), nil, "/s/M", nil, nil, cc, ok, nil)
		}, "EnterConn"},
		{"Interceptor", false, func(g section.Gate) error {
			return section.Interceptor(g)(context.Background(), "/s/M", nil, nil, cc, ok)
		}, "EnterConn"},
		{"Judged", false, func(g section.Gate) error {
			b := section.Judged(g, g.(section.Instant), g.Exit, nil)
			if err := b.Unary(context.Background(), "/s/M", nil, nil, cc, ok); err != nil {
				return err
			}
			return b.Flat.InvokeStep(context.Background(), "/s/M", nil, nil, cc, nil, section.NextInvoker(ok))
		}, "EnterConn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				g   section.Gate
				rec *connGate
			)
			if tc.clocked {
				c := &clockedConnGate{}
				g, rec = c, &c.connGate
			} else {
				rec = &connGate{}
				g = rec
			}
			if err := tc.run(g); err != nil {
				t.Fatal(err)
			}
			if len(rec.got) == 0 {
				t.Fatal("the gate was not entered")
			}
			for i := range rec.got {
				if rec.got[i] != cc || rec.how[i] != tc.want {
					t.Errorf("entry %d: %s with ClientConn %p, want %s with the call's, %p", i, rec.how[i], rec.got[i], tc.want, cc)
				}
			}
		})
	}
}

// instantConnGate is a connGate that says it never waits (a bulkhead with MaxWait 0, a local
// limiter that does not wait), and a clocked one.
type (
	instantConnGate        struct{ connGate }
	instantClockedConnGate struct{ clockedConnGate }
)

func (g *instantConnGate) Instant([]grpc.CallOption) bool        { return true }
func (g *instantClockedConnGate) Instant([]grpc.CallOption) bool { return true }

// TestGatesEnterAConnGateThatNeverWaitsAsAnyGate: Gates enters a ConnGate that says, when the
// Gates is made, that it never waits (Instant(nil)) with Enter, or EnterAt at the call's
// start, as any gate, passing no ClientConn: a call through gates that never wait runs what it
// ran before ConnGate. It used to enter every ConnGate with EnterConn (EnterConnAt).
func TestGatesEnterAConnGateThatNeverWaitsAsAnyGate(t *testing.T) {
	cc := new(grpc.ClientConn) // never dialed
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	start := time.Now()
	for _, tc := range []struct {
		name    string
		clocked bool
		start   *time.Time
		want    string
	}{
		{"no start", false, nil, "Enter"},
		{"a start", false, &start, "Enter"},
		{"clocked, a start", true, &start, "EnterAt"},
		{"clocked, no start", true, nil, "Enter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				g   section.Gate
				rec *connGate
			)
			if tc.clocked {
				c := &instantClockedConnGate{}
				g, rec = c, &c.connGate
			} else {
				c := &instantConnGate{}
				g, rec = c, &c.connGate
			}
			gs, _ := section.NewGates(g)
			if err := gs.Invoke(context.Background(), tc.start, "/s/M", nil, nil, cc, ok, nil); err != nil {
				t.Fatal(err)
			}
			if len(rec.how) != 1 || rec.how[0] != tc.want {
				t.Fatalf("entries %v, want one %s", rec.how, tc.want)
			}
		})
	}
}

// switchConnGate is a connGate whose Instant answer its test changes (a bulkhead whose
// max_wait a reload retunes).
type switchConnGate struct {
	connGate
	instant bool
}

func (g *switchConnGate) Instant([]grpc.CallOption) bool { return g.instant }

// TestGatesDecideAgain: Decide re-reads whether each ConnGate may wait, so that a Gates made
// while a gate did not wait enters it with EnterConn once its wait is turned on, and with
// Enter again once it is off (Waits says which). A Gates used to keep what NewGates decided.
func TestGatesDecideAgain(t *testing.T) {
	cc := new(grpc.ClientConn) // never dialed
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	g := &switchConnGate{instant: true}
	gs, _ := section.NewGates(g)
	for _, step := range []struct {
		instant bool
		want    string
	}{{true, "Enter"}, {false, "EnterConn"}, {true, "Enter"}} {
		g.instant = step.instant
		gs.Decide()
		g.how = nil
		if err := gs.Invoke(context.Background(), nil, "/s/M", nil, nil, cc, ok, nil); err != nil {
			t.Fatal(err)
		}
		if len(g.how) != 1 || g.how[0] != step.want {
			t.Errorf("Instant(nil) %v: entries %v, want one %s", step.instant, g.how, step.want)
		}
		if w := gs.Waits(0); w == step.instant {
			t.Errorf("Instant(nil) %v: Waits(0) = %v", step.instant, w)
		}
	}
}
