package otelobs_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// spanCounts counts the spans a provider (see provider) starts and the spans ended.
type spanCounts struct{ started, ended atomic.Int64 }

// provider returns a provider of tp's spans that c counts.
func (c *spanCounts) provider(tp trace.TracerProvider) trace.TracerProvider {
	return &wrappingProvider{tp: tp, wrap: func(s trace.Span) trace.Span {
		c.started.Add(1)
		return countingSpan{Span: s, c: c}
	}}
}

type countingSpan struct {
	trace.Span
	c *spanCounts
}

func (s countingSpan) End(opts ...trace.SpanEndOption) {
	s.c.ended.Add(1)
	s.Span.End(opts...)
}

// A call span its sampler drops is ended all the same, as the OpenTelemetry API asks of every
// span started ("Any Span that is created MUST also be ended": a provider may hold resources
// until then): on success, on error, on a panic, for a stream that opens and for one refused as it opens.
// Before, the interceptors started it and never ended it.
func TestUnsampledCallSpanIsEnded(t *testing.T) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	cp := &spanCounts{}
	tr := otelobs.New(otelobs.WithTracerProvider(cp.provider(sdk)))
	down := status.Error(grpccodes.Unavailable, "down")

	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return down }
	_ = tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, ok)
	_ = tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, fail)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		boom := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") }
		_ = tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, boom)
	}()

	opened := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return struct{ grpc.ClientStream }{}, nil
	}
	refused := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, down
	}
	desc := &grpc.StreamDesc{ClientStreams: true}
	_, _ = tr.Stream()(context.Background(), desc, nil, testkit.MethodCheck, opened)
	_, _ = tr.Stream()(context.Background(), desc, nil, testkit.MethodCheck, refused)

	if s, e := cp.started.Load(), cp.ended.Load(); s != 5 || e != s {
		t.Errorf("%d call spans started, %d ended; want 5 and 5", s, e)
	}
}
