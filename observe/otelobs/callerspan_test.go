package otelobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WithCallSpan(false) records on the caller's span; a call with no span records nothing.
func TestRecordsOnCallersSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	srv := testkit.Start(t, &testkit.Server{CompareF: testkit.FailFirst(1, status.Error(grpccodes.Unavailable, "down"))})
	tr := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithCallSpan(false))
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: quickRetry(3)}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}, interceptors.WithObserver(tr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, append(tr.DialOptions(), s.DialOptions()...)...))

	ctx, span := tp.Tracer("test").Start(context.Background(), "verification")
	if _, err := client.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	span.End()
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans %v, want the caller's only", names(spans))
	}
	wantAttr(t, "caller span", spans[0].Attributes, otelobs.KeyAttempts, int64(2))
	if n := len(events(spans[0], otelobs.EventAttempt)); n != 2 {
		t.Errorf("%d attempt events on the caller's span, want 2", n)
	}
	exp.Reset()

	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Compare(cctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans for a call with no span, want none", n)
	}
}
