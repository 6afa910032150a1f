package otelobs_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// newTracer returns a tracer recording into an in-memory exporter.
func newTracer(t *testing.T) (*otelobs.Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return otelobs.New(otelobs.WithTracerProvider(tp)), exp
}

// The bulwark.retries_exhausted event carries bulwark.attempts and bulwark.reason, as the
// package documentation's table says.
func TestExhaustedEventCarriesTheReason(t *testing.T) {
	tr, exp := newTracer(t)
	invoker := func(ctx context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		observe.CallSinkFrom(ctx).Observe(observe.Event{Kind: observe.RetriesExhausted, Method: method,
			Attempt: 3, Reason: observe.ReasonMaxAttempts, Code: grpccodes.Unavailable, Class: codes.Transient})
		return nil
	}
	if err := tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans %v, want the call span", names(spans))
	}
	evs := events(spans[0], otelobs.EventExhausted)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1", len(evs), otelobs.EventExhausted)
	}
	wantAttr(t, "retries exhausted", evs[0].Attributes, otelobs.KeyAttempts, int64(3))
	wantAttr(t, "retries exhausted", evs[0].Attributes, otelobs.KeyReason, observe.ReasonMaxAttempts)
}

// A traced call nested in a traced call of the same method (made with its context) records
// its events on its own span only: the outer call's recorder is not its caller's sink, and
// the outer span keeps none of the inner call's attempts.
func TestNestedSameMethodStaysOffTheOuterSpan(t *testing.T) {
	tr, exp := newTracer(t)
	inner := func(ctx context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		observe.CallSinkFrom(ctx).Observe(observe.Event{Kind: observe.AttemptFinished, Method: method,
			Attempt: 1, Code: grpccodes.OK, Class: codes.Success})
		return nil
	}
	outer := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return tr.Unary()(ctx, method, req, reply, cc, inner, opts...)
	}
	if err := tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, outer); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("spans %v, want the inner and the outer call spans", names(spans))
	}
	// The inner span ends first.
	if got := len(events(spans[0], otelobs.EventAttempt)); got != 1 {
		t.Errorf("inner call span: %d attempt events, want 1", got)
	}
	if got := len(events(spans[1], otelobs.EventAttempt)); got != 0 {
		t.Errorf("outer call span: %d attempt events, want 0 (the inner call's are its own)", got)
	}
}

// ctxStream is a gRPC stream whose Context is ctx; nothing reads it.
type ctxStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s ctxStream) Context() context.Context { return s.ctx }

// A stream that gRPC ends (its own context ends) while the caller's is live and nobody reads
// it ends its span as abandoned, with the code of the context's end: the Transport end, as
// the caller's own giving up is.
func TestStreamEndedByGRPCUnreadIsAbandoned(t *testing.T) {
	tr, exp := newTracer(t)
	sctx, end := context.WithCancel(context.Background())
	defer end()
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return ctxStream{ctx: sctx}, nil
	}
	st, err := tr.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Context() // commits the stream: its own context is watched from now on
	end()            // gRPC ends the stream; the caller's context stays live
	call := waitSpan(t, exp, checkSpanName)
	wantAttr(t, "stream ended by gRPC, unread", call.Attributes, otelobs.KeyAbandoned, true)
	wantAttr(t, "stream ended by gRPC, unread", call.Attributes, otelobs.KeyCode, int64(grpccodes.Canceled))
	if call.Status.Code != otelcodes.Error || call.Status.Description != grpccodes.Canceled.String() {
		t.Errorf("call span status %+v, want Error, Canceled", call.Status)
	}
}

// The call span's status follows the call's code, not its class: a code a classifier counts
// as a success (an override of NotFound, say) still did not end OK, and the span says Error.
func TestCallSpanStatusFollowsTheCode(t *testing.T) {
	tr, exp := newTracer(t)
	invoker := func(ctx context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		observe.CallSinkFrom(ctx).Observe(observe.Event{Kind: observe.CallFinished, Method: method,
			Attempt: 1, Code: grpccodes.NotFound, Class: codes.Success})
		return nil
	}
	if err := tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans %v, want the call span", names(spans))
	}
	if got := spans[0].Status; got.Code != otelcodes.Error || got.Description != grpccodes.NotFound.String() {
		t.Errorf("call span status %+v, want Error, NotFound", got)
	}
}
