package otelobs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// With StatusCodeOnly, otelgrpc's request spans keep the Error status of a failed request but
// not its description, the server's status message, which may quote the request; the call
// span is a child of the caller's, and each request span a child of the call span, as before.
func TestStatusCodeOnlyDropsTheServersMessage(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return nil, status.Error(grpccodes.Unavailable, "no face found for "+secret)
	}})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp))
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(2)}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithObserver(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	opts := append(tr.DialOptions(), s.DialOptions()...)
	opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(otelobs.StatusCodeOnly(tp)))))
	face := kycv1.NewFaceMatchServiceClient(srv.Dial(t, opts...))

	ctx, parent := tp.Tracer("test").Start(context.Background(), "verification")
	_, err = face.Compare(ctx, &kycv1.CompareRequest{Selfie: []byte(secret)})
	parent.End()
	if status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("Compare: %v, want Unavailable", err)
	}
	spans := exp.GetSpans()
	checkNoPayload(t, spans)
	call := find(t, spans, callSpanName)
	if call.Parent.SpanID() != find(t, spans, "verification").SpanContext.SpanID() {
		t.Errorf("call span's parent %v, want the verification span", call.Parent.SpanID())
	}
	requests := attemptSpans(spans)
	if len(requests) != 2 {
		t.Fatalf("%d request spans %v, want 2 (one per attempt)", len(requests), names(spans))
	}
	for _, r := range requests {
		if r.Status.Code != otelcodes.Error || strings.Contains(r.Status.Description, secret) {
			t.Errorf("request span status %+v, want Error without the server's message", r.Status)
		}
		if r.Parent.SpanID() != call.SpanContext.SpanID() {
			t.Errorf("request span %q is not a child of the call span", r.Name)
		}
	}
}

// A span of StatusCodeOnly's provider, and a span started through its TracerProvider, keep
// the status code and drop the description; wrapping twice changes nothing.
func TestStatusCodeOnlyKeepsTheCode(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	q := otelobs.StatusCodeOnly(tp)
	if otelobs.StatusCodeOnly(q) != q {
		t.Error("StatusCodeOnly of its own result wraps it again")
	}
	ctx, sp := q.Tracer("test").Start(context.Background(), "request")
	sp.SetStatus(otelcodes.Error, secret)
	_, child := sp.TracerProvider().Tracer("test").Start(ctx, "child")
	child.SetStatus(otelcodes.Error, secret)
	child.End()
	sp.End()
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for _, s := range spans {
		if s.Status.Code != otelcodes.Error || s.Status.Description != "" {
			t.Errorf("span %q status %+v, want Error with no description", s.Name, s.Status)
		}
	}
}
