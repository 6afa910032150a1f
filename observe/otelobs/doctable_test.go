package otelobs_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// attributeKey is an attribute's key as the documentation writes it: dotted words.
var attributeKey = regexp.MustCompile(`[a-z_]+(?:\.[a-z_]+)+`)

// docEventAttributes reads the span event table of the package documentation: for each span
// event, the attribute keys its rows name.
func docEventAttributes(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	event := ""
	for _, line := range strings.Split(string(b), "\n") {
		row, ok := strings.CutPrefix(line, "//\t|")
		if !ok {
			event = ""
			continue
		}
		cols := strings.Split(row, "|")
		if len(cols) < 3 {
			continue
		}
		if name := strings.TrimSpace(cols[0]); name != "" {
			event = ""
			if strings.HasPrefix(name, "bulwark.") {
				event = name
			}
		}
		if event != "" {
			out[event] = append(out[event], attributeKey.FindAllString(cols[2], -1)...)
		}
	}
	for k, v := range out {
		slices.Sort(v)
		out[k] = slices.Compact(v)
	}
	return out
}

// The table of span events in the package documentation names, for each event, every
// attribute key the event carries and no other, so that an operator can query a trace store
// by the keys it gives.
func TestDocTableNamesEventAttributes(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp))
	method, svc := testkit.MethodCompare, svcFaceMatch
	at := time.Unix(1000, 0)
	ev := func(e observe.Event) observe.Event {
		e.Time, e.Service, e.Method = at, svc, method
		return e
	}
	// Every span event, each with every optional attribute it can carry.
	events := []observe.Event{
		ev(observe.Event{Kind: observe.AttemptFinished, Policy: observe.PolicyRetry, Attempt: 1, Code: grpccodes.Unavailable, Class: codes.Transient, Duration: time.Millisecond}),
		ev(observe.Event{Kind: observe.RetryScheduled, Policy: observe.PolicyRetry, Attempt: 1, Code: grpccodes.Unavailable, Class: codes.Transient, Delay: time.Second, Reason: observe.ReasonPushback}),
		ev(observe.Event{Kind: observe.HedgeSent, Policy: observe.PolicyHedge, Attempt: 3, Delay: 50 * time.Millisecond, Reason: observe.ReasonHedgeDelay}),
		ev(observe.Event{Kind: observe.Rejected, Policy: observe.PolicyBreaker, Attempt: 3, Code: grpccodes.Unavailable, Class: codes.Rejected, Reason: "CIRCUIT_OPEN", Delay: time.Second}),
		ev(observe.Event{Kind: observe.AttemptSpared, Policy: observe.PolicyRetry, Attempt: 2, Delay: 5 * time.Second}),
		ev(observe.Event{Kind: observe.RetriesExhausted, Policy: observe.PolicyRetry, Attempt: 4, Code: grpccodes.Unavailable, Class: codes.Transient, Reason: observe.ReasonMaxAttempts}),
		ev(observe.Event{Kind: observe.FallbackServed, Policy: observe.PolicyFallback, Code: grpccodes.Unavailable, Class: codes.Rejected, Reason: "CIRCUIT_OPEN"}),
		ev(observe.Event{Kind: observe.CallFinished, Policy: observe.PolicySuite, Attempt: 4, Code: grpccodes.OK, Class: codes.Success, Duration: time.Second}),
	}
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		sink := observe.CallSinkFrom(ctx)
		for _, e := range events {
			sink.Observe(e)
		}
		return nil
	}
	if err := tr.Unary()(context.Background(), method, nil, nil, nil, invoker); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, s := range exp.GetSpans() {
		for _, e := range s.Events {
			for _, a := range e.Attributes {
				got[e.Name] = append(got[e.Name], string(a.Key))
			}
		}
	}
	for k, v := range got {
		slices.Sort(v)
		got[k] = slices.Compact(v)
	}
	doc := docEventAttributes(t)
	for _, name := range []string{otelobs.EventAttempt, otelobs.EventRetry, otelobs.EventExhausted, otelobs.EventHedge, otelobs.EventRejected, otelobs.EventFallback, otelobs.EventSpared} {
		if !slices.Equal(doc[name], got[name]) {
			t.Errorf("span event %s: the documentation's table names %v; the event carries %v", name, doc[name], got[name])
		}
	}
}
