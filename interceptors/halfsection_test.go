package interceptors_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// Two third-party sections that intercept one kind of call each: a Build may leave the other
// kind's interceptor nil (section.Built), and calls of that kind then pass the step by.

type halfConfig struct {
	Tag string `yaml:"tag"`
}

var unaryOnlyCalls, streamOnlyOpens atomic.Int32

func init() {
	section.Register(section.Spec[halfConfig]{
		Key:  "unary_only",
		Rank: section.RankBulkhead + 30,
		Build: func(*section.Env, halfConfig) (section.Built, error) {
			return section.Built{Unary: func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				unaryOnlyCalls.Add(1)
				return invoker(ctx, method, req, reply, cc, opts...)
			}}, nil
		},
	})
	section.Register(section.Spec[halfConfig]{
		Key:  "stream_only",
		Rank: section.RankBulkhead + 40,
		Build: func(*section.Env, halfConfig) (section.Built, error) {
			return section.Built{Stream: func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				streamOnlyOpens.Add(1)
				return streamer(ctx, desc, cc, method, opts...)
			}}, nil
		},
	})
}

// endedStream is a server stream that has ended: RecvMsg returns io.EOF.
type endedStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s *endedStream) Context() context.Context { return s.ctx }
func (s *endedStream) CloseSend() error         { return nil }
func (s *endedStream) RecvMsg(any) error        { return io.EOF }

// A section whose Build gives only a unary interceptor, or only a stream one, made the calls
// of the other kind panic with a nil function call. They pass its step by, with and without
// an observer and a retry loop before it.
func TestSectionOfOneKindOfCallPassesTheOtherBy(t *testing.T) {
	for _, profile := range []string{
		"bulkhead: {max_concurrent: 4}",
		"retry: {max_attempts: 2}\n    bulkhead: {max_concurrent: 4}",
	} {
		cfg, _, err := config.Parse("half.yaml", []byte(`
profiles:
  half:
    `+profile+`
    unary_only: {tag: u}
    stream_only: {tag: s}
services:
  test.v1.Half:
    profile: half
`))
		if err != nil {
			t.Fatal(err)
		}
		for _, sink := range []bool{false, true} {
			var opts []interceptors.Option
			if sink {
				opts = append(opts, interceptors.WithObserver(&testkit.Recorder{}))
			}
			s, err := interceptors.New(cfg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			const method = "/test.v1.Half/Call"
			u0, s0 := unaryOnlyCalls.Load(), streamOnlyOpens.Load()
			invoked := 0
			err = s.Unary()(context.Background(), method, nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					invoked++
					return nil
				})
			if err != nil || invoked != 1 {
				t.Fatalf("%q sink %v: unary call = %v, %d invocations; want nil, 1", profile, sink, err, invoked)
			}
			opened := 0
			st, err := s.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, method,
				func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					opened++
					return &endedStream{ctx: ctx}, nil
				})
			if err != nil || opened != 1 {
				t.Fatalf("%q sink %v: stream = %v, %d opened; want nil, 1", profile, sink, err, opened)
			}
			if err := st.RecvMsg(new(struct{})); !errors.Is(err, io.EOF) {
				t.Fatalf("%q sink %v: RecvMsg = %v, want io.EOF", profile, sink, err)
			}
			if du, ds := unaryOnlyCalls.Load()-u0, streamOnlyOpens.Load()-s0; du != 1 || ds != 1 {
				t.Fatalf("%q sink %v: unary_only step ran %d times, stream_only %d; want 1 and 1", profile, sink, du, ds)
			}
			s.Close()
		}
	}
}
