package otelobs_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
)

// Calls whose requests, metadata, status messages, status details, headers and trailers all
// quote personal data, through the suite with retries, a deadline, a bulkhead, a breaker that
// opens and a fallback, traced as the package documentation shows (otelgrpc beneath, given
// StatusCodeOnly): no span carries it, in its name, attributes, events or status.
func TestNoPersonalDataInSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp))
	s, err := interceptors.New(suitecfg.Personal(), interceptors.WithObserver(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := testkit.Start(t, testkit.PersonalServer())
	opts := append(tr.DialOptions(), s.DialOptions()...)
	opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(otelobs.StatusCodeOnly(tp)))))
	testkit.CallPersonal(context.Background(), srv.Dial(t, opts...))

	spans := exp.GetSpans()
	checkNoText(t, spans, testkit.Personal)
	events := map[string]bool{}
	fallback := false // a call span says a fallback answered (OCR's)
	for _, sp := range spans {
		for _, ev := range sp.Events {
			events[ev.Name] = true
		}
		for _, a := range sp.Attributes {
			if a.Key == otelobs.KeyFallback && a.Value.AsBool() {
				fallback = true
			}
		}
	}
	if !fallback {
		t.Errorf("no call span with %s: a call a fallback answered looks like a success", otelobs.KeyFallback)
	}
	for _, name := range []string{otelobs.EventAttempt, otelobs.EventRetry, otelobs.EventExhausted, otelobs.EventRejected, otelobs.EventFallback} {
		if !events[name] {
			t.Errorf("no %s event: the calls did not meet every policy", name)
		}
	}
}
