package section_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// watchLog is a gatewatch.Watcher and the gates it watches, writing what they are told to
// one log, in order.
type watchLog struct{ log []string }

func (w *watchLog) GateWaiting(n int) { w.log = append(w.log, fmt.Sprint("waiting ", n)) }
func (w *watchLog) GateLeft(n int)    { w.log = append(w.log, fmt.Sprint("left ", n)) }

// loggedGate is a ConnGate that logs its entries to a watchLog; instant says it never waits.
type loggedGate struct {
	connGate
	name    string
	instant bool
	w       *watchLog
}

func (g *loggedGate) Enter(context.Context, string, []grpc.CallOption) (section.Pass, error) {
	g.w.log = append(g.w.log, "enter "+g.name)
	return section.Pass{}, nil
}

func (g *loggedGate) EnterConn(context.Context, *grpc.ClientConn, string, []grpc.CallOption) (section.Pass, error) {
	g.w.log = append(g.w.log, "enter "+g.name+" with its conn")
	return section.Pass{}, nil
}

func (g *loggedGate) Instant([]grpc.CallOption) bool { return g.instant }

// TestGatesTellTheWatchOfAWait: a run of gates tells the attempt's gatewatch.Watch, the last
// of its call options, of the wait at each gate that may make it wait (entered with the
// ClientConn), around that gate's entry, and of no other gate's; a Watch that is not the last
// option, or no Watch, is told nothing.
func TestGatesTellTheWatchOfAWait(t *testing.T) {
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, tc := range []struct {
		name string
		last bool
		want []string
	}{
		{"last", true, []string{"enter fast", "waiting 3", "enter queue with its conn", "left 3", "enter fast2"}},
		{"not last", false, []string{"enter fast", "enter queue with its conn", "enter fast2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &watchLog{}
			g, _ := section.NewGates(
				&loggedGate{name: "fast", instant: true, w: w},
				&loggedGate{name: "queue", w: w},
				&loggedGate{name: "fast2", instant: true, w: w},
			)
			var x gatewatch.Watch
			x.Set(w, 3)
			opts := []grpc.CallOption{&x, grpc.EmptyCallOption{}}
			if tc.last {
				opts = []grpc.CallOption{grpc.EmptyCallOption{}, &x}
			}
			if err := g.Invoke(context.Background(), nil, "/s.S/M", nil, nil, nil, ok, opts); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w.log, tc.want) {
				t.Errorf("log %q, want %q", w.log, tc.want)
			}
		})
	}
}
