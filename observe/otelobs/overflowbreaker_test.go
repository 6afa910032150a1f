package otelobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A call past the suite's bound of unlisted names goes through an overflow chain, whose
// method-scoped breaker is named for the chain ("/<service>/*", or "/*/*" for an unlisted
// service) and whose state changes name that method, not the call's. A rejection by it must
// still report that breaker's state on the call's span: the tracer reported "open" for any
// state, a breaker an operator forced open or one half-open included.
func TestOverflowBreakerStateOnTheSpan(t *testing.T) {
	for _, tc := range []struct {
		name, method, breaker string
	}{
		{"a listed service's overflow chain", "/" + svcFaceMatch + "/Unlisted", "/" + svcFaceMatch + "/*"},
		{"the suite's overflow chain", "/unlisted.v1.Service/Unlisted", "/*/*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			srv := testkit.Start(t, &testkit.Server{})
			tr := otelobs.New(otelobs.WithTracerProvider(tp))
			reg := new(breaker.Registry)
			mp := config.Profile{Retry: quickRetry(1), Breaker: &breaker.Config{Scope: breaker.ScopeMethod, ConsecutiveFailures: 100, RecoveryTimeout: time.Hour}}
			s, err := interceptors.New(&config.Config{
				Profiles: map[string]config.Profile{"p": mp, config.DefaultProfile: mp},
				Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
			}, interceptors.WithObserver(tr), interceptors.WithBreakerRegistry(reg), interceptors.WithUnlistedLimit(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			cc := srv.Dial(t, append(tr.DialOptions(), s.DialOptions()...)...)
			call := func() error {
				ctx, parent := tp.Tracer("test").Start(context.Background(), "verification")
				defer parent.End()
				return cc.Invoke(ctx, tc.method, &kycv1.CompareRequest{}, &kycv1.CompareResponse{})
			}
			_ = call() // builds the overflow chain and its breaker (the stub does not know the method)
			b, ok := reg.Lookup(tc.breaker)
			if !ok {
				t.Fatalf("no breaker %q in the registry", tc.breaker)
			}
			b.ForceOpen()
			exp.Reset()
			err = call()
			var rej *codes.Rejection
			if !errors.As(err, &rej) || rej.Policy != "breaker" {
				t.Fatalf("call with the breaker forced open: %v, want the breaker's rejection", err)
			}
			span := find(t, exp.GetSpans(), "bulwark "+tc.method)
			wantAttr(t, "rejected call", span.Attributes, otelobs.KeyBreaker, "forced_open")
		})
	}
}
