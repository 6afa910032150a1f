package otelobs_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
)

// A call whose goroutine exits inside the call (runtime.Goexit below the tracer: a test's
// stub interceptor calling t.FailNow, say) neither returns nor panics: its span must end all
// the same, with an Error status, as a panicking call's does. Before, the tracer ended the
// span only on a return or a panic, and such a span never ended.
func TestGoexitingCallEndsItsSpan(t *testing.T) {
	unary := func(tr *otelobs.Tracer) {
		invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			runtime.Goexit()
			return nil
		}
		_ = tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker)
	}
	stream := func(tr *otelobs.Tracer) {
		streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			runtime.Goexit()
			return nil, nil
		}
		_, _ = tr.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCompare, streamer)
	}
	for name, call := range map[string]func(*otelobs.Tracer){"unary": unary, "stream": stream} {
		t.Run(name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			tr := otelobs.New(otelobs.WithTracerProvider(tp))
			var wg sync.WaitGroup
			wg.Go(func() { call(tr) })
			wg.Wait()
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("ended spans %v, want the call span", names(spans))
			}
			if got := spans[0].Status; got.Code != otelcodes.Error || got.Description != "goexit" {
				t.Errorf("call span status %+v, want Error described as goexit", got)
			}
		})
	}
}
