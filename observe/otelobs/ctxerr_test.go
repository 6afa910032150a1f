package otelobs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// A unary call the tracer traces without the suite below, failed by an interceptor beneath
// it with the context's own error (a timeout interceptor returning ctx.Err(), say), carries
// the code gRPC gives that error (Canceled, DeadlineExceeded) on its span, as an abandoned
// stream's span does: status.Code read it as Unknown, a server's fault.
func TestUnaryContextErrorRecordsItsCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code grpccodes.Code
	}{
		{context.Canceled, grpccodes.Canceled},
		{fmt.Errorf("timeout interceptor: %w", context.DeadlineExceeded), grpccodes.DeadlineExceeded},
	} {
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
			if got := spans[0].Status.Description; got != tc.code.String() {
				t.Errorf("call span status described %q, want %q", got, tc.code)
			}
		})
	}
}
