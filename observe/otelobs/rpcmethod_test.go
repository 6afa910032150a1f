package otelobs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
)

// The keys as OpenTelemetry's RPC conventions spell them (otelobs.KeyRPCSystem, KeyRPCMethod).
const (
	rpcSystem = attribute.Key("rpc.system.name")
	rpcMethod = attribute.Key("rpc.method")
)

// The call span names its method as otelgrpc's attempt spans below it do (OpenTelemetry's RPC
// conventions: rpc.system.name, and rpc.method, the fully qualified method without its
// leading slash), so that a query by method finds the logical call as well as its requests.
func TestCallSpanCarriesRPCMethod(t *testing.T) {
	// otelgrpc reads this when its handler is made: under rpc/old its spans name the method
	// without the service, which is not what this test compares.
	t.Setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "")
	e := newEnv(t, config.Profile{Retry: quickRetry(2)}, &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return &kycv1.CompareResponse{}, nil
	}})
	spans, err := e.compare(t)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	call := find(t, spans, callSpanName)
	wantMethod := strings.TrimPrefix(testkit.MethodCompare, "/")
	wantAttr(t, "call span", call.Attributes, rpcSystem, "grpc")
	wantAttr(t, "call span", call.Attributes, rpcMethod, wantMethod)
	attempts := attemptSpans(spans)
	if len(attempts) != 1 {
		t.Fatalf("attempt spans %v, want one", names(attempts))
	}
	wantAttr(t, "otelgrpc's attempt span", attempts[0].Attributes, rpcMethod, wantMethod)
}

// A method name longer than observe.MaxKeptName is clipped in rpc.method as in the span's
// name, and a call whose name the tracer does not keep carries the attributes all the same.
func TestCallSpanRPCMethodOfLongName(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp))
	method := "/s.v1.S/" + strings.Repeat("m", 2000)
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	if err := tr.Unary()(context.Background(), method, nil, nil, nil, invoker); err != nil {
		t.Fatalf("call: %v", err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans %v, want the call span", names(spans))
	}
	v, ok := attr(spans[0].Attributes, rpcMethod)
	if !ok {
		t.Fatalf("long name: no attribute %s", rpcMethod)
	}
	if got, want := v.AsString(), strings.TrimPrefix(spans[0].Name, "bulwark /"); got != want {
		t.Errorf("long name: %s = %.60q… (%d bytes), want the span name's method, clipped (%d bytes)", rpcMethod, got, len(got), len(want))
	}
	wantAttr(t, "long name", spans[0].Attributes, rpcSystem, "grpc")
}

// The exported keys are the conventions' names.
func TestRPCKeys(t *testing.T) {
	if otelobs.KeyRPCSystem != rpcSystem || otelobs.KeyRPCMethod != rpcMethod {
		t.Errorf("keys %s, %s; want %s, %s", otelobs.KeyRPCSystem, otelobs.KeyRPCMethod, rpcSystem, rpcMethod)
	}
}
