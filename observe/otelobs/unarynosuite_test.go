package otelobs_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A unary call the tracer traces without the suite below (installed alone, or before a chain
// the suite is not part of) carries its outcome's code on its span, as such a stream's does
// (TestStreamWithoutTheSuiteEndsItsSpan): the span had the Error status of a failure but no
// rpc.grpc.status_code, and a success had no code at all.
func TestUnaryWithoutTheSuiteRecordsItsCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code grpccodes.Code
	}{{nil, grpccodes.OK}, {status.Error(grpccodes.Unavailable, "down"), grpccodes.Unavailable}} {
		t.Run(tc.code.String(), func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			tr := otelobs.New(otelobs.WithTracerProvider(tp))
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return tc.err }
			if err := tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker); err != tc.err {
				t.Fatalf("call = %v, want %v", err, tc.err)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("spans %v, want the call span", names(spans))
			}
			wantAttr(t, "unary call", spans[0].Attributes, otelobs.KeyCode, int64(tc.code))
			if wantErr := tc.code != grpccodes.OK; (spans[0].Status.Code == otelcodes.Error) != wantErr {
				t.Errorf("call span status %+v, want an error: %v", spans[0].Status, wantErr)
			}
		})
	}
}
