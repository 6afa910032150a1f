package otelobs_test

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// wrappingProvider's tracers start their spans with tp's and hand out wrap's wrapper of each:
// a test's hooks on the spans the tracer under test starts.
type wrappingProvider struct {
	embedded.TracerProvider
	tp   trace.TracerProvider
	wrap func(trace.Span) trace.Span
}

func (p *wrappingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return wrappingTracer{tr: p.tp.Tracer(name, opts...), wrap: p.wrap}
}

type wrappingTracer struct {
	embedded.Tracer
	tr   trace.Tracer
	wrap func(trace.Span) trace.Span
}

func (t wrappingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, s := t.tr.Start(ctx, name, opts...)
	w := t.wrap(s)
	return trace.ContextWithSpan(ctx, w), w
}
