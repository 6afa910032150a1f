package otelobs_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A nil provider is the global one, as it is to WithTracerProvider and to otelgrpc's own
// option: the documented pairing otelgrpc.WithTracerProvider(otelobs.StatusCodeOnly(tp)) with
// a nil tp (tracing configured through the global provider) panicked as the handler was made.
func TestStatusCodeOnlyOfNilIsTheGlobalProvider(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("otelgrpc.NewClientHandler with StatusCodeOnly(nil) panicked: %v", p)
			}
		}()
		_ = otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(otelobs.StatusCodeOnly(nil)))
	}()
	_, sp := otelobs.StatusCodeOnly(nil).Tracer("test").Start(context.Background(), "request")
	sp.SetStatus(otelcodes.Error, secret)
	sp.End()
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans on the global provider, want 1", len(spans))
	}
	if s := spans[0].Status; s.Code != otelcodes.Error || s.Description != "" {
		t.Errorf("span status %+v, want Error with no description", s)
	}
}
