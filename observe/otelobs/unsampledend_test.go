package otelobs_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// countingProvider counts the spans its tracers start and the spans ended.
type countingProvider struct {
	embedded.TracerProvider
	tp             trace.TracerProvider
	started, ended atomic.Int64
}

func (p *countingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return countingTracer{p: p, tr: p.tp.Tracer(name, opts...)}
}

type countingTracer struct {
	embedded.Tracer
	p  *countingProvider
	tr trace.Tracer
}

func (t countingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, s := t.tr.Start(ctx, name, opts...)
	t.p.started.Add(1)
	c := countingSpan{Span: s, p: t.p}
	return trace.ContextWithSpan(ctx, c), c
}

type countingSpan struct {
	trace.Span
	p *countingProvider
}

func (s countingSpan) End(opts ...trace.SpanEndOption) {
	s.p.ended.Add(1)
	s.Span.End(opts...)
}

// A call span its sampler drops is ended all the same, as the OpenTelemetry API asks of every
// span started ("Any Span that is created MUST also be ended": a provider may hold resources
// until then): on success, on error, on a panic, for a stream that opens and for one refused as it opens.
// Before, the interceptors started it and never ended it.
func TestUnsampledCallSpanIsEnded(t *testing.T) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	cp := &countingProvider{tp: sdk}
	tr := otelobs.New(otelobs.WithTracerProvider(cp))
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
