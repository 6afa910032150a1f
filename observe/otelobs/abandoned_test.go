package otelobs_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// waitSpan waits up to 10 s for the span named name to end (a stream's end seen by its
// context's callback is reported on another goroutine) and returns it.
func waitSpan(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		for _, s := range exp.GetSpans() {
			if s.Name == name {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans %v: the call span of %s never ended", names(exp.GetSpans()), name)
		}
		time.Sleep(time.Millisecond)
	}
}

// Regression: a stream whose caller gave up on it without reading it to its end (its context
// ended while no RecvMsg or SendMsg ran) left its call span unended, so the span was never
// exported and otelgrpc's spans of its attempts pointed at a parent that never appears. The
// suite reports no CallFinished for such a stream (the caller never saw its end); the span
// ends all the same, as abandoned, with the code of the context's end.
func TestAbandonedStreamEndsItsSpan(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		code grpccodes.Code
	}{
		{"canceled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, grpccodes.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			// Long enough for the stream to open and send on a loaded machine before it
			// ends (50 ms did not, once, beside two other test runs): the test waits it out.
			return context.WithTimeout(context.Background(), 2*time.Second)
		}, grpccodes.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered := make(chan struct{}, 1)
			srv := &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
				entered <- struct{}{}
				<-st.Context().Done()
				return st.Context().Err()
			}}
			e := newEnv(t, config.Profile{Retry: quickRetry(1)}, srv)
			ctx, cancel := tc.ctx()
			defer cancel()
			st, err := e.live.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(&kycv1.CheckRequest{}); err != nil {
				t.Fatal(err)
			}
			<-entered
			if tc.code == grpccodes.Canceled {
				cancel() // and never read the stream
			}
			call := waitSpan(t, e.exp, checkSpanName)
			wantAttr(t, "abandoned stream", call.Attributes, otelobs.KeyAbandoned, true)
			wantAttr(t, "abandoned stream", call.Attributes, otelobs.KeyCode, int64(tc.code))
			if call.Status.Code != otelcodes.Error || call.Status.Description != tc.code.String() {
				t.Errorf("call span status %+v, want Error, %s", call.Status, tc.code)
			}
		})
	}
}

// eofStream is a gRPC stream read to its end: RecvMsg returns io.EOF, or err.
type eofStream struct {
	grpc.ClientStream
	err error
}

func (s eofStream) Context() context.Context { return context.Background() }
func (s eofStream) RecvMsg(any) error {
	if s.err != nil {
		return s.err
	}
	return io.EOF
}

// Regression: the tracer's stream interceptor ended the call span only on the suite's
// CallFinished, so a stream it traced without the suite below (installed alone, or before a
// chain the suite is not part of) left its span unended however it ended. The span ends with
// the stream, with the code RecvMsg returned.
func TestStreamWithoutTheSuiteEndsItsSpan(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code grpccodes.Code
	}{{nil, grpccodes.OK}, {status.Error(grpccodes.Unavailable, "down"), grpccodes.Unavailable}} {
		t.Run(tc.code.String(), func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			tr := otelobs.New(otelobs.WithTracerProvider(tp))
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return eofStream{err: tc.err}, nil
			}
			st, err := tr.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.err
			if want == nil {
				want = io.EOF
			}
			if err := st.RecvMsg(nil); err != want {
				t.Fatalf("RecvMsg = %v, want %v", err, want)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("spans %v: the call span did not end with the stream", names(spans))
			}
			wantAttr(t, "stream", spans[0].Attributes, otelobs.KeyCode, int64(tc.code))
			if wantErr := tc.code != grpccodes.OK; (spans[0].Status.Code == otelcodes.Error) != wantErr {
				t.Errorf("call span status %+v, want an error: %v", spans[0].Status, wantErr)
			}
		})
	}
}
