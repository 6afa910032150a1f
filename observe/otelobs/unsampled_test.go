package otelobs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
)

// What a call that nothing records costs the tracer's interceptor, as the package
// documentation says: with WithCallSpan(false), one context lookup and no allocation; with the
// default call span, the SDK's Start of a span its sampler drops: two allocations (five before
// the span's name and options were made once per method).
func TestUnsampledCallCost(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -race and -cover")
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, tt := range []struct {
		name   string
		opts   []otelobs.Option
		method string
		max    float64
	}{
		{name: "caller's span", opts: []otelobs.Option{otelobs.WithCallSpan(false)}, method: testkit.MethodCompare, max: 0},
		{name: "call span", method: testkit.MethodCompare, max: 2},
		// A name the tracer does not keep (longer than observe.MaxKeptName, or past its bound
		// on names) has its span's name made for the call, and the SDK's Start costs it one
		// more: four allocations. The rpc.* attributes are made only once the span is known
		// to record (six, when they were made for every call).
		{name: "call span of a name not kept", method: "/s.v1.S/" + strings.Repeat("M", observe.MaxKeptName), max: 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ic := otelobs.New(append([]otelobs.Option{otelobs.WithTracerProvider(tp)}, tt.opts...)...).Unary()
			allocs := testing.AllocsPerRun(200, func() {
				_ = ic(context.Background(), tt.method, nil, nil, nil, invoker)
			})
			t.Logf("%s: %.0f allocations per unsampled call", tt.name, allocs)
			if allocs > tt.max {
				t.Errorf("%.0f allocations per unsampled call, want at most %.0f", allocs, tt.max)
			}
		})
	}
}
