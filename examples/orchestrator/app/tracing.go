package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/flagrule"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"google.golang.org/grpc"
)

// traceUsage is the -trace flag's help.
const traceUsage = "export traces: `stdout` (pretty JSON on stderr, a demo) or otlp=HOST:PORT (OTLP/gRPC, plaintext); off by default"

// traceFlushTimeout bounds the flush of the spans still buffered when the command ends.
var traceFlushTimeout = 5 * time.Second

// tracing is what -trace sets up: a tracer provider, the bulwark tracer (an observer of the
// suite and an interceptor before it) and otelgrpc's client stats handler (a span per request).
type tracing struct {
	tp     *sdktrace.TracerProvider
	tracer *otelobs.Tracer
	spec   string    // the -trace value, for the warning of shutdown
	stderr io.Writer // where shutdown warns of spans not exported
	exp    *countingExporter
}

// countingExporter counts the spans ended (as its endCounter sees them) and those its
// exporter exported, and keeps the last export error: the batcher only hands such errors to
// OpenTelemetry's global error handler, drops the spans that find its queue full without a
// word, and a collector that cannot be reached at the end is not reported at all. The spans
// not exported are the difference, whichever way they were lost.
type countingExporter struct {
	sdktrace.SpanExporter
	mu       sync.Mutex
	ended    int   // Guarded by mu: sampled spans ended, which the batcher was handed.
	exported int   // Guarded by mu: spans exported.
	err      error // Guarded by mu: the last export error.
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.mu.Lock()
	if err != nil {
		e.err = err
	} else {
		e.exported += len(spans)
	}
	e.mu.Unlock()
	return err
}

// lost returns the spans ended and not exported, and the last export error.
func (e *countingExporter) lost() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ended - e.exported, e.err
}

// endCounter is a span processor that counts, for its countingExporter, the spans that the
// batcher is handed: sampled spans, when they end.
type endCounter struct{ e *countingExporter }

func (c endCounter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c endCounter) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		c.e.mu.Lock()
		c.e.ended++
		c.e.mu.Unlock()
	}
}
func (c endCounter) Shutdown(context.Context) error   { return nil }
func (c endCounter) ForceFlush(context.Context) error { return nil }

// traceProblem names what is wrong with a -trace spec, or returns "": parseFlags reports it
// as a bad command line.
func traceProblem(spec string) string {
	switch {
	case spec == "", spec == "stdout":
		return ""
	case strings.HasPrefix(spec, "otlp="):
		// The exporter dials the value as a gRPC target: a host without a port went to port
		// 443, and a URL (http://HOST:PORT) did not resolve, found only when the spans were
		// reported lost at the end. A target with a resolver's scheme (unix:/path) is taken.
		addr := strings.TrimPrefix(spec, "otlp=")
		if flagrule.HasScheme(addr) {
			return ""
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" || strings.Contains(addr, "/") {
			return fmt.Sprintf("-trace %q: want otlp=HOST:PORT", spec)
		}
		return ""
	default:
		return fmt.Sprintf("-trace %q: want stdout or otlp=HOST:PORT", spec)
	}
}

// startTracing builds the exporter that spec names; an empty spec is no tracing (nil).
func startTracing(ctx context.Context, spec string, stderr io.Writer) (*tracing, error) {
	if p := traceProblem(spec); p != "" {
		return nil, errors.New(p)
	}
	var exp sdktrace.SpanExporter
	var err error
	switch spec {
	case "":
		return nil, nil
	case "stdout":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(stderr), stdouttrace.WithPrettyPrint())
	default:
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(strings.TrimPrefix(spec, "otlp=")), otlptracegrpc.WithInsecure())
	}
	if err != nil {
		return nil, fmt.Errorf("-trace: %w", err)
	}
	counted := &countingExporter{SpanExporter: exp}
	tp := sdktrace.NewTracerProvider(
		// An export ends within the final flush, so that its error is known to shutdown and
		// no export outlives the command.
		sdktrace.WithBatcher(counted, sdktrace.WithExportTimeout(traceFlushTimeout*9/10)),
		sdktrace.WithSpanProcessor(endCounter{counted}),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("kyc-orchestrator"))),
	)
	return &tracing{tp: tp, tracer: otelobs.New(otelobs.WithTracerProvider(tp)), spec: spec, stderr: stderr, exp: counted}, nil
}

// dialOptions go before the suite's: the call span, then the suite, then a span per request.
// The request spans' status leaves out the server's status message (otelobs.StatusCodeOnly):
// a service may quote the request in it.
func (t *tracing) dialOptions() []grpc.DialOption {
	if t == nil {
		return nil
	}
	return append(t.tracer.DialOptions(),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(otelobs.StatusCodeOnly(t.tp)))))
}

// shutdown flushes the spans still buffered, and warns on stderr when spans could not be
// exported (a collector down or at a wrong address): the trace is then incomplete or missing.
func (t *tracing) shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
	defer cancel()
	err := t.tp.Shutdown(ctx)
	lost, lastErr := 0, error(nil)
	if t.exp != nil {
		lost, lastErr = t.exp.lost()
	}
	if lost == 0 && err == nil {
		return
	}
	if lastErr == nil {
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("dropped on the batcher's full queue (a collector too slow for the spans)")
	}
	what := "spans not exported"
	if lost > 0 {
		what = fmt.Sprintf("%d spans not exported", lost)
	}
	fmt.Fprintf(t.stderr, "orchestrator: warning: -trace %s: %s: %v\n", t.spec, what, lastErr)
}
