package interceptors_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// A third-party section whose stream step opens the rest of the chain with a context that
// keeps none of its values. The suite hands the built-in steps one streamer for every
// stream, which finds the stream's runner in its context: from such a step on, each stream
// hands the steps funcs of its own again.

type detachConfig struct {
	Tag string `yaml:"tag"`
}

// valueless is its parent without the parent's values.
type valueless struct{ context.Context }

func (valueless) Value(any) any { return nil }

var detachedOpens atomic.Int32

func init() {
	section.Register(section.Spec[detachConfig]{
		Key:  "detach",
		Rank: section.RankBreaker + 50,
		Build: func(*section.Env, detachConfig) (section.Built, error) {
			return section.Built{Stream: func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				detachedOpens.Add(1)
				return streamer(valueless{ctx}, desc, cc, method, opts...)
			}}, nil
		},
	})
}

func TestStreamThroughStepThatDropsContextValues(t *testing.T) {
	for _, profile := range []string{
		"breaker: {consecutive_failures: 5}\n    bulkhead: {max_concurrent: 4}",
		"retry: {max_attempts: 2}\n    breaker: {consecutive_failures: 5}\n    rate_limit: {rate: 1000, burst: 10}\n    bulkhead: {max_concurrent: 4}",
	} {
		cfg, _, err := config.Parse("detach.yaml", []byte(`
profiles:
  detach:
    `+profile+`
    detach: {tag: d}
services:
  test.v1.Detach:
    profile: detach
`))
		if err != nil {
			t.Fatal(err)
		}
		for _, sinked := range []bool{false, true} {
			var attempts []int
			var opts []interceptors.Option
			if sinked {
				opts = append(opts, interceptors.WithObserver(observe.SinkFunc(func(e observe.Event) {
					if e.Kind == observe.CallFinished {
						attempts = append(attempts, e.Attempt)
					}
				})))
			}
			s, err := interceptors.New(cfg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			detachedOpens.Store(0)
			var reached atomic.Int32
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				reached.Add(1)
				return &endedStream{ctx: ctx}, nil
			}
			for range 2 {
				cs, err := s.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/test.v1.Detach/Watch", streamer)
				if err != nil {
					t.Fatalf("%s, observed %v: open: %v", profile, sinked, err)
				}
				if err := cs.RecvMsg(new(struct{})); err != io.EOF {
					t.Fatalf("%s, observed %v: RecvMsg = %v, want io.EOF", profile, sinked, err)
				}
			}
			s.Close()
			if got := detachedOpens.Load(); got != 2 {
				t.Errorf("%s, observed %v: the detaching step opened %d streams, want 2", profile, sinked, got)
			}
			if got := reached.Load(); got != 2 {
				t.Errorf("%s, observed %v: %d streams reached the streamer, want 2", profile, sinked, got)
			}
			if sinked && (len(attempts) != 2 || attempts[0] != 1 || attempts[1] != 1) {
				t.Errorf("%s: CallFinished attempts %v, want [1 1]", profile, attempts)
			}
		}
	}
}
