package otelobs_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A call made with a traced call's context through a suite the tracer does not front (here a
// fallback's Func asking another service, through a connection of its own, for a degraded
// reply) sends its events to the traced call's recorder, which observe.WithCallSink put in
// that context: they are another call's, and must not show on the traced call's span. Before,
// the inner call's two failed attempts, its retry, and its end (Unavailable) were recorded on
// the outer call's span, whose status then read Error although its fallback answered.
func TestNestedCallStaysOffTheSpan(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{
		CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			return nil, status.Error(grpccodes.Unavailable, "down")
		},
		ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			return nil, status.Error(grpccodes.Unavailable, "down")
		},
	})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	// The inner call's suite, on a connection without the tracer.
	inner, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(2)}},
		Services: map[string]config.Service{svcOCR: {Profile: "p"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inner.Close() })
	ocr := kycv1.NewOCRServiceClient(srv.Dial(t, inner.DialOptions()...))

	tr := otelobs.New(otelobs.WithTracerProvider(tp))
	degraded := fallback.Func(func(ctx context.Context, _ string, _ any, _ error) proto.Message {
		_, _ = ocr.Extract(ctx, &kycv1.ExtractRequest{}) // fails: Unavailable, after 2 attempts
		return &kycv1.CompareResponse{}
	})
	outer, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(1), Fallback: &fallback.Config{}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}, interceptors.WithObserver(tr), interceptors.WithFallback(testkit.MethodCompare, degraded))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = outer.Close() })
	face := kycv1.NewFaceMatchServiceClient(srv.Dial(t, append(tr.DialOptions(), outer.DialOptions()...)...))

	if _, err := face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("Compare: %v, want the fallback's reply", err)
	}
	if n := srv.Calls(testkit.MethodExtract); n != 2 {
		t.Fatalf("the fallback's Extract made %d attempts, want 2", n)
	}
	call := find(t, exp.GetSpans(), callSpanName)
	if call.Status.Code == otelcodes.Error {
		t.Errorf("call span status %+v, want unset: the fallback answered", call.Status)
	}
	wantAttr(t, "call", call.Attributes, otelobs.KeyClass, "success")
	wantAttr(t, "call", call.Attributes, otelobs.KeyAttempts, int64(1))
	wantAttr(t, "call", call.Attributes, otelobs.KeyFallback, true)
	if n := len(events(call, otelobs.EventAttempt)); n != 1 {
		t.Errorf("%d attempt events on the call span, want 1 (Compare's; Extract's are another call's)", n)
	}
	if n := len(events(call, otelobs.EventRetry)); n != 0 {
		t.Errorf("%d retry events on the call span, want none (Compare was not retried)", n)
	}
	if n := len(events(call, otelobs.EventFallback)); n != 1 {
		t.Errorf("%d fallback events on the call span, want 1", n)
	}
}
