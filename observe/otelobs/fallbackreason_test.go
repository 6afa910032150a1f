package otelobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
)

// A fallback that answers a policy's refusal hides the rejection from the span (the call
// ends OK), so its bulwark.fallback_served event is the one place that can say who refused:
// it carried the code and class alone, and a fallback answering an open breaker looked like
// one answering any other Unavailable rejection. It now carries bulwark.reason (CIRCUIT_OPEN)
// for a refusal; a server's own ErrorInfo reason stays off the span, as on the call's end.
func TestFallbackEventNamesTheRefusal(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{
		CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			return nil, testkit.Status(grpccodes.Unavailable, "BACKEND_DOWN")
		},
	})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp))
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {
			Retry:    quickRetry(1),
			Breaker:  &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour},
			Fallback: &fallback.Config{},
		}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}, interceptors.WithObserver(tr), interceptors.WithFallback(testkit.MethodCompare, fallback.Message(&kycv1.CompareResponse{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	face := kycv1.NewFaceMatchServiceClient(srv.Dial(t, append(tr.DialOptions(), s.DialOptions()...)...))

	for i, want := range []string{"", breaker.ReasonCircuitOpen} { // the server's failure opens the breaker
		exp.Reset()
		if _, err := face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
			t.Fatalf("call %d: %v, want the fallback's reply", i+1, err)
		}
		evs := events(find(t, exp.GetSpans(), callSpanName), otelobs.EventFallback)
		if len(evs) != 1 {
			t.Fatalf("call %d: %d fallback events, want 1", i+1, len(evs))
		}
		got, ok := attr(evs[0].Attributes, otelobs.KeyReason)
		if want == "" && ok {
			t.Errorf("call %d (the server's failure): %s = %v, want none: a server's reason stays off the span", i+1, otelobs.KeyReason, got.AsInterface())
		}
		if want != "" && got.AsString() != want {
			t.Errorf("call %d (the open breaker's refusal): %s = %q (set %v), want %q", i+1, otelobs.KeyReason, got.AsString(), ok, want)
		}
	}
}
