package app

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A service's status message may quote the request (a name or a document number on the
// document): no span of the -trace setup carries it, otelgrpc's span per request included,
// whose status keeps the Error code.
func TestTracingLeavesOutTheServersMessage(t *testing.T) {
	const pii = "PII-MARKER-DOE-1970"
	srv := testkit.Start(t, &testkit.Server{ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
		return nil, status.Error(grpccodes.Unavailable, "document number "+pii+" unreadable")
	}})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := &tracing{tp: tp, tracer: otelobs.New(otelobs.WithTracerProvider(tp))}
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: &retry.Config{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Jitter: retry.JitterNone}}},
		Services: map[string]config.Service{kycv1.OCRService_ServiceDesc.ServiceName: {Profile: "p"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithObserver(tr.tracer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cc := srv.Dial(t, append(tr.dialOptions(), s.DialOptions()...)...)
	_, err = kycv1.NewOCRServiceClient(cc).Extract(context.Background(), &kycv1.ExtractRequest{DocumentImage: []byte(pii)})
	if status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("Extract: %v, want Unavailable", err)
	}
	spans := exp.GetSpans()
	requests := 0
	for _, sp := range spans {
		text := []string{sp.Name, sp.Status.Description}
		for _, kv := range sp.Attributes {
			text = append(text, kv.Value.String())
		}
		for _, ev := range sp.Events {
			text = append(text, ev.Name)
			for _, kv := range ev.Attributes {
				text = append(text, kv.Value.String())
			}
		}
		for _, x := range text {
			if strings.Contains(x, pii) {
				t.Errorf("span %q (scope %s) carries the status message: %q", sp.Name, sp.InstrumentationScope.Name, x)
			}
		}
		if sp.InstrumentationScope.Name != otelobs.ScopeName {
			requests++
			if sp.Status.Code != otelcodes.Error {
				t.Errorf("request span %q status %v, want Error", sp.Name, sp.Status)
			}
		}
	}
	if requests != 2 {
		t.Errorf("%d request spans, want 2 (one per attempt)", requests)
	}
}

// With -trace otlp=HOST:PORT and no collector answering there, the spans buffered at the end
// cannot be exported: the command says so on stderr, naming the flag and its value, instead
// of waiting out the flush and exiting as if the trace had been sent.
func TestTracingShutdownReportsSpansNotExported(t *testing.T) {
	// A port that accepts connections and never answers: no collector.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	defer func(d time.Duration) { traceFlushTimeout = d }(traceFlushTimeout)
	traceFlushTimeout = 200 * time.Millisecond
	spec := "otlp=" + lis.Addr().String()
	var stderr bytes.Buffer
	tr, err := startTracing(context.Background(), spec, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	_, sp := tr.tp.Tracer("test").Start(context.Background(), "call")
	sp.End()
	tr.shutdown()
	if got := stderr.String(); !strings.Contains(got, "-trace "+spec) || !strings.Contains(got, "not exported") {
		t.Errorf("stderr after a flush that exported nothing: %q, want a warning naming -trace %s and the spans not exported", got, spec)
	}
}

// gateWriter blocks its first Write until release, signalling entered.
type gateWriter struct {
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	buf              bytes.Buffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered); <-w.release })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// A collector slower than the spans come (or one that is down, each export waiting out its
// timeout) fills the batcher's queue, and the batcher drops the spans that find it full
// without telling the exporter. The shutdown warning counted only the spans of failed
// exports: spans dropped were not reported at all, and the trace looked complete.
func TestTracingShutdownCountsSpansDroppedOnAFullQueue(t *testing.T) {
	t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1")
	t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1")
	out := &gateWriter{entered: make(chan struct{}), release: make(chan struct{})}
	var stderr bytes.Buffer
	tr, err := startTracing(context.Background(), "stdout", out)
	if err != nil {
		t.Fatal(err)
	}
	tr.stderr = &stderr
	end := func(name string) {
		_, sp := tr.tp.Tracer("test").Start(context.Background(), name)
		sp.End()
	}
	end("first")
	<-out.entered // the first span is being exported; the queue is empty
	end("queued") // fills the queue
	end("dropped-1")
	end("dropped-2")
	close(out.release)
	tr.shutdown()
	if got, want := stderr.String(), "-trace stdout: 2 spans not exported"; !strings.Contains(got, want) {
		t.Errorf("stderr after 2 spans dropped on a full queue: %q, want it to contain %q", got, want)
	}
}

// An OTLP endpoint is a host and port, or a gRPC target with a resolver's scheme.
func TestTraceProblemAcceptsEndpoints(t *testing.T) {
	for _, spec := range []string{"", "stdout", "otlp=collector:4317", "otlp=[::1]:4317", "otlp=:4317", "otlp=unix:/run/otel.sock", "otlp=dns:///collector:4317"} {
		if p := traceProblem(spec); p != "" {
			t.Errorf("traceProblem(%q) = %q, want none", spec, p)
		}
	}
}
