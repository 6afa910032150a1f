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

// admittingGate is a StreamWatcher: its stream interceptor admits with section.AdmitStream,
// logging the admission (where it would wait), then refuses the stream, panics, or opens the
// rest of the chain.
type admittingGate struct {
	loggedGate
	refuse, panics bool
}

func (g *admittingGate) WatchesStreams() {}

func (g *admittingGate) Unary() grpc.UnaryClientInterceptor { return nil }

func (g *admittingGate) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		err := section.AdmitStream(g, opts, func() error {
			g.w.log = append(g.w.log, "admit "+g.name)
			if g.panics {
				panic("admit")
			}
			if g.refuse {
				return errStreamRefused
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

// TestAdmitStreamTellsTheWatchOnce: a StreamWatcher's stream interceptor, admitting with
// AdmitStream, tells a stream's gatewatch.Watch, the last of its call options, that the
// stream waits as the admission begins and that it has left once the admission returns
// (admitted or refused, before the refusal's grpc.OnFinish callbacks run) or panics; a gate
// that lets the stream through at once (Instant), or a Watch that is not the last option, is
// told nothing. Step and Judged pass such a gate's stream interceptor on as it is: the watch
// is told once, not a second time around the gate's own telling.
func TestAdmitStreamTellsTheWatchOnce(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		judged                  bool
		instant, refuse, panics bool
		last                    bool
		want                    []string
	}{
		{"step", false, false, false, false, true, []string{"waiting 2", "admit q", "left 2", "open"}},
		{"judged", true, false, false, false, true, []string{"waiting 2", "admit q", "left 2", "open"}},
		{"refused", false, false, true, false, true, []string{"waiting 2", "admit q", "left 2", "finished refused"}},
		{"panicked", false, false, false, true, true, []string{"waiting 2", "admit q", "left 2", "finished panicked"}},
		{"instant", false, true, false, false, true, []string{"admit q", "open"}},
		{"not last", false, false, false, false, false, []string{"admit q", "open"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &watchLog{}
			g := &admittingGate{loggedGate: loggedGate{name: "q", instant: tc.instant, w: w}, refuse: tc.refuse, panics: tc.panics}
			b, err := section.Step(g, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.judged {
				b = section.Judged(g, g, g.Exit, g.Stream())
			}
			var x gatewatch.Watch
			x.Set(w, 2)
			finish := grpc.OnFinish(func(err error) {
				if errors.Is(err, errStreamRefused) {
					w.log = append(w.log, "finished refused")
				} else {
					w.log = append(w.log, "finished panicked")
				}
			})
			opts := []grpc.CallOption{&x, finish}
			if tc.last {
				opts = []grpc.CallOption{finish, &x}
			}
			open := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				w.log = append(w.log, "open")
				return nil, nil
			}
			func() {
				defer func() {
					if r := recover(); (r != nil) != tc.panics {
						t.Errorf("recovered %v, want a panic: %v", r, tc.panics)
					}
				}()
				_, err = b.Stream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, "/s.S/M", open, opts...)
			}()
			if tc.refuse != errors.Is(err, errStreamRefused) {
				t.Fatalf("the stream: %v", err)
			}
			if !slices.Equal(w.log, tc.want) {
				t.Errorf("log %q, want %q", w.log, tc.want)
			}
		})
	}
}
