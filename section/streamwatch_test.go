package section_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// streamGate is a loggedGate with a stream interceptor that logs its admission (where a gate
// that may wait waits) and then opens the rest of the chain, or refuses the stream.
type streamGate struct {
	loggedGate
	refuse bool
}

var errStreamRefused = errors.New("refused")

func (g *streamGate) Unary() grpc.UnaryClientInterceptor { return nil }

func (g *streamGate) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		g.w.log = append(g.w.log, "admit "+g.name)
		if g.refuse {
			return nil, errStreamRefused
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

// TestGateStreamStepsTellTheWatchOfAWait: the stream step of a gate that may wait, made by
// Step or Judged, tells a stream's gatewatch.Watch, the last of its call options (a hedged
// client stream's hedge), that the stream waits as the gate's interceptor begins and that it
// has left once the gate opens the rest of the chain, or returns refusing it; a gate that lets
// the stream through at once (Instant), a Watch that is not the last option, or none, is told
// nothing.
func TestGateStreamStepsTellTheWatchOfAWait(t *testing.T) {
	for _, tc := range []struct {
		name            string
		judged          bool
		instant, refuse bool
		last            bool
		want            []string
	}{
		{"step", false, false, false, true, []string{"waiting 2", "admit q", "left 2", "open"}},
		{"judged", true, false, false, true, []string{"waiting 2", "admit q", "left 2", "open"}},
		{"refused", false, false, true, true, []string{"waiting 2", "admit q", "left 2"}},
		{"instant", false, true, false, true, []string{"admit q", "open"}},
		{"not last", false, false, false, false, []string{"admit q", "open"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &watchLog{}
			g := &streamGate{loggedGate: loggedGate{name: "q", instant: tc.instant, w: w}, refuse: tc.refuse}
			b, err := section.Step(g, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.judged {
				b = section.Judged(g, g, g.Exit, g.Stream())
			}
			var x gatewatch.Watch
			x.Set(w, 2)
			opts := []grpc.CallOption{&x, grpc.EmptyCallOption{}}
			if tc.last {
				opts = []grpc.CallOption{grpc.EmptyCallOption{}, &x}
			}
			open := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				w.log = append(w.log, "open")
				return nil, nil
			}
			_, err = b.Stream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, "/s.S/M", open, opts...)
			if tc.refuse != errors.Is(err, errStreamRefused) {
				t.Fatalf("the stream: %v", err)
			}
			if !slices.Equal(w.log, tc.want) {
				t.Errorf("log %q, want %q", w.log, tc.want)
			}
		})
	}
}
