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
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
)

// endedSpans is a span processor that hands over each span as it ends.
type endedSpans chan sdktrace.ReadOnlySpan

func (c endedSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c endedSpans) OnEnd(s sdktrace.ReadOnlySpan)                   { c <- s }
func (c endedSpans) Shutdown(context.Context) error                  { return nil }
func (c endedSpans) ForceFlush(context.Context) error                { return nil }

// Regression: a traced stream nobody read whose ClientConn shut down (the third way, beside
// reading it to its end and canceling its context, that gRPC lets a caller end a stream) left
// its call span unended, alone or in front of the suite: the tracer watched the caller's
// context, which never ended, until the stream was committed, and did not watch the
// ClientConn. The span now ends at the shutdown, as abandoned, with the code of gRPC's end of
// the stream (Canceled).
func TestStreamOfAClosedConnEndsItsSpan(t *testing.T) {
	for _, withSuite := range []bool{false, true} {
		name := "alone"
		if withSuite {
			name = "suite"
		}
		t.Run(name, func(t *testing.T) {
			entered := make(chan struct{}, 1)
			srv := testkit.Start(t, &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
				entered <- struct{}{}
				<-st.Context().Done()
				return st.Context().Err()
			}})
			ended := make(endedSpans, 16)
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ended))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			tr := otelobs.New(otelobs.WithTracerProvider(tp))
			opts := tr.DialOptions()
			if withSuite {
				s, err := interceptors.New(&config.Config{Budget: 5 * time.Second,
					Profiles: map[string]config.Profile{"p": {Retry: quickRetry(1)}},
					Services: map[string]config.Service{"kyc.v1.LivenessService": {Profile: "p"}}}, interceptors.WithObserver(tr))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				opts = append(opts, s.DialOptions()...)
			}
			cc := srv.Dial(t, opts...)
			st, err := kycv1.NewLivenessServiceClient(cc).Check(context.Background()) // a context that never ends
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(&kycv1.CheckRequest{}); err != nil {
				t.Fatal(err)
			}
			<-entered
			if err := cc.Close(); err != nil { // and never read the stream
				t.Fatal(err)
			}
			var call sdktrace.ReadOnlySpan
			select {
			case call = <-ended:
			case <-time.After(10 * time.Second): // a bound on a failure, not a wait for success
				t.Fatal("the call span did not end when the stream's ClientConn shut down")
			}
			stub := tracetest.SpanStubFromReadOnlySpan(call)
			if stub.Name != checkSpanName {
				t.Fatalf("span %q ended, want %q", stub.Name, checkSpanName)
			}
			wantAttr(t, "stream of a closed conn", stub.Attributes, otelobs.KeyAbandoned, true)
			wantAttr(t, "stream of a closed conn", stub.Attributes, otelobs.KeyCode, int64(grpccodes.Canceled))
			if stub.Status.Code != otelcodes.Error || stub.Status.Description != "Canceled" {
				t.Errorf("call span status %+v, want Error, Canceled", stub.Status)
			}
		})
	}
}
