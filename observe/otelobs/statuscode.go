package otelobs

import (
	"context"

	"go.opentelemetry.io/otel"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// StatusCodeOnly returns a TracerProvider whose spans are tp's, except that they drop the
// description of their status: SetStatus keeps the code and leaves the description empty.
// Give it to otelgrpc's stats handler (otelgrpc.WithTracerProvider): otelgrpc describes the
// status of a failed request by the server's status message, which a service may fill with
// the request's content (a name or a document number on the document). The request spans keep
// the Error status, and the code as otelgrpc's status code attribute. A nil tp is the global
// provider (otel.GetTracerProvider()), as it is to WithTracerProvider and to otelgrpc's.
func StatusCodeOnly(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if q, ok := tp.(codeOnlyProvider); ok {
		return q
	}
	return codeOnlyProvider{tp: tp}
}

type codeOnlyProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p codeOnlyProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return codeOnlyTracer{p: p, tr: p.tp.Tracer(name, opts...)}
}

type codeOnlyTracer struct {
	embedded.Tracer
	p  codeOnlyProvider
	tr trace.Tracer
}

// Start starts the span with the wrapped tracer and puts the span that drops descriptions in
// the context returned, where otelgrpc finds it when the request ends. A span that records
// nothing is returned as it is.
func (t codeOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, s := t.tr.Start(ctx, name, opts...)
	if !s.IsRecording() {
		return ctx, s
	}
	cs := codeOnlySpan{Span: s, p: t.p}
	return trace.ContextWithSpan(ctx, cs), cs
}

type codeOnlySpan struct {
	trace.Span
	p codeOnlyProvider
}

// SetStatus sets the status code without its description.
func (s codeOnlySpan) SetStatus(code otelcodes.Code, _ string) { s.Span.SetStatus(code, "") }

// TracerProvider returns the provider whose spans drop descriptions.
func (s codeOnlySpan) TracerProvider() trace.TracerProvider { return s.p }
