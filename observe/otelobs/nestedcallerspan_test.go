package otelobs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// With WithCallSpan(false) a call records on the caller's span. A call nested in it (here a
// fallback's Func asking another method through the same tracer and suite) finds that span
// again in its context: it must not write its outcome there. Before, the nested Extract's two
// attempts, its retry and its end (Unavailable, status Error) went onto the caller's span,
// which then read Error and 3 attempts although Compare's fallback answered after one.
func TestNestedCallLeavesTheCallersSpanToTheOuterCall(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{
		CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			return nil, status.Error(grpccodes.Unavailable, "down")
		},
		ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			return nil, status.Error(grpccodes.Unavailable, "down")
		},
	})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithCallSpan(false))

	var ocr kycv1.OCRServiceClient
	nestedErr := make(chan error, 1)
	degraded := fallback.Func(func(ctx context.Context, _ string, _ any, _ error) proto.Message {
		_, err := ocr.Extract(ctx, &kycv1.ExtractRequest{}) // fails: Unavailable, after 2 attempts
		nestedErr <- err
		return &kycv1.CompareResponse{}
	})
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{
			"compare": {Retry: quickRetry(1), Fallback: &fallback.Config{}},
			"extract": {Retry: quickRetry(2)},
		},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "compare"}, svcOCR: {Profile: "extract"}},
	}, interceptors.WithObserver(tr), interceptors.WithFallback(testkit.MethodCompare, degraded))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cc := srv.Dial(t, append(tr.DialOptions(), s.DialOptions()...)...)
	face, ocr := kycv1.NewFaceMatchServiceClient(cc), kycv1.NewOCRServiceClient(cc)

	own := new(methodSink) // the caller's own call sink, which gets both calls' events
	ctx, parent := tp.Tracer("test").Start(observe.WithCallSink(context.Background(), own), "verification")
	if _, err := face.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("Compare: %v, want the fallback's reply", err)
	}
	parent.End()
	if err := <-nestedErr; status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("the fallback's Extract: %v, want Unavailable", err)
	}
	if n := srv.Calls(testkit.MethodExtract); n != 2 {
		t.Fatalf("the fallback's Extract made %d attempts, want 2", n)
	}
	finished := map[string]int{}
	for _, k := range own.take() {
		if m, ok := strings.CutPrefix(k, "call_finished "); ok {
			finished[m]++
		}
	}
	if finished[testkit.MethodCompare] != 1 || finished[testkit.MethodExtract] != 1 || len(finished) != 2 {
		t.Errorf("the caller's call sink got call_finished %v, want one of Compare and one of Extract", finished)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans %v, want the caller's only", names(spans))
	}
	caller := spans[0]
	if caller.Status.Code != otelcodes.Unset {
		t.Errorf("caller span status %+v, want unset: Compare's fallback answered", caller.Status)
	}
	wantAttr(t, "caller span", caller.Attributes, otelobs.KeyClass, "success")
	wantAttr(t, "caller span", caller.Attributes, otelobs.KeyCode, int64(grpccodes.OK))
	wantAttr(t, "caller span", caller.Attributes, otelobs.KeyAttempts, int64(1))
	wantAttr(t, "caller span", caller.Attributes, otelobs.KeyFallback, true)
	if n := len(events(caller, otelobs.EventAttempt)); n != 1 {
		t.Errorf("%d attempt events on the caller span, want 1 (Compare's; Extract's are another call's)", n)
	}
	if n := len(events(caller, otelobs.EventRetry)); n != 0 {
		t.Errorf("%d retry events on the caller span, want none (Compare was not retried)", n)
	}
	if ex := events(caller, otelobs.EventExhausted); len(ex) != 1 {
		t.Errorf("%d retries_exhausted events on the caller span, want 1 (Compare's; Extract's is another call's)", len(ex))
	} else {
		wantAttr(t, "retries_exhausted event", ex[0].Attributes, otelobs.KeyAttempts, int64(1))
	}
	if n := len(events(caller, otelobs.EventFallback)); n != 1 {
		t.Errorf("%d fallback events on the caller span, want 1", n)
	}
}

// finishing is an invoker that reports its call as a suite would (one attempt, then the
// call's end with code), and returns the error of code.
func finishing(code grpccodes.Code) grpc.UnaryInvoker {
	return func(ctx context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		class := codes.Success
		if code != grpccodes.OK {
			class = codes.Transient
		}
		sink := observe.CallSinkFrom(ctx)
		sink.Observe(observe.Event{Kind: observe.AttemptFinished, Method: method, Attempt: 1, Code: code, Class: class})
		sink.Observe(observe.Event{Kind: observe.CallFinished, Method: method, Attempt: 1, Code: code, Class: class})
		return status.Error(code, "down")
	}
}

// A nested call of the enclosing call's own method (a fallback asking the same method of a
// standby, say), which the method of its events cannot tell apart, leaves the caller's span
// to the enclosing call too; a call made with the enclosing call's context once that call has
// ended is a call of the caller's own, and records there as any other.
func TestNestedCallOfTheSameMethodLeavesTheCallersSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithCallSpan(false))

	var kept context.Context
	outer := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		kept = ctx
		if err := tr.Unary()(ctx, method, req, reply, cc, finishing(grpccodes.Unavailable)); status.Code(err) != grpccodes.Unavailable {
			t.Errorf("the nested call: %v, want Unavailable", err)
		}
		sink := observe.CallSinkFrom(ctx)
		sink.Observe(observe.Event{Kind: observe.AttemptFinished, Method: method, Attempt: 1, Class: codes.Success})
		sink.Observe(observe.Event{Kind: observe.CallFinished, Method: method, Attempt: 1, Class: codes.Success})
		return nil
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "verification")
	if err := tr.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, outer); err != nil {
		t.Fatal(err)
	}
	// The caller's span as the enclosing call ended (the SDK's span, read while it is live).
	atEnd := trace.SpanFromContext(ctx).(sdktrace.ReadOnlySpan)
	if atEnd.Status().Code != otelcodes.Unset {
		t.Errorf("caller span status %+v as the enclosing call ended, want unset: it ended OK", atEnd.Status())
	}
	if n := len(atEnd.Events()); n != 1 {
		t.Errorf("%d events on the caller span as the enclosing call ended, want 1 (its attempt)", n)
	}
	wantAttr(t, "caller span as the enclosing call ended", atEnd.Attributes(), otelobs.KeyCode, int64(grpccodes.OK))
	// The enclosing call has ended: a call made with its context now is the caller's next.
	if err := tr.Unary()(kept, testkit.MethodExtract, nil, nil, nil, finishing(grpccodes.Unavailable)); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("the later call: %v, want Unavailable", err)
	}
	parent.End()
	caller := find(t, exp.GetSpans(), "verification")
	if n := len(events(caller, otelobs.EventAttempt)); n != 2 {
		t.Errorf("%d attempt events on the caller span, want 2 (the enclosing call's, then the later call's)", n)
	}
	if caller.Status.Code != otelcodes.Error {
		t.Errorf("caller span status %+v, want Error: the later call failed", caller.Status)
	}
}
