package otelobs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	svcFaceMatch = "kyc.v1.FaceMatchService"
	svcOCR       = "kyc.v1.OCRService"
	callSpanName = "bulwark " + testkit.MethodCompare
	// secret stands for the personal data a request carries (a selfie, a document number).
	secret = "SELFIE-OF-JANE-DOE-4711"
)

// env is a traced client of a scripted stub: otelgrpc's client stats handler makes a span of
// every attempt, the tracer records the logical call, the suite runs the policies.
type env struct {
	exp   *tracetest.InMemoryExporter
	tp    *sdktrace.TracerProvider
	srv   *testkit.Server
	suite *interceptors.Suite
	face  kycv1.FaceMatchServiceClient
	ocr   kycv1.OCRServiceClient
	live  kycv1.LivenessServiceClient
	tr    *otelobs.Tracer
}

// newEnv dials srv through the tracer, the suite (the three KYC services on profile mp),
// extra and otelgrpc's stats handler (given StatusCodeOnly, as the documentation shows), in that
// order.
func newEnv(t *testing.T, mp config.Profile, srv *testkit.Server, extra ...grpc.DialOption) *env {
	t.Helper()
	return newEnvWith(t, mp, srv, nil, extra...)
}

// newEnvWith is newEnv with options of the suite's besides the tracer as its observer (a fake
// clock, another observer).
func newEnvWith(t *testing.T, mp config.Profile, srv *testkit.Server, suiteOpts []interceptors.Option, extra ...grpc.DialOption) *env {
	t.Helper()
	e := &env{exp: tracetest.NewInMemoryExporter(), srv: testkit.Start(t, srv)}
	e.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(e.exp))
	t.Cleanup(func() { _ = e.tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(e.tp))
	cfg := &config.Config{
		Budget:   5 * time.Second,
		Profiles: map[string]config.Profile{"p": mp},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}, svcOCR: {Profile: "p"}, "kyc.v1.LivenessService": {Profile: "p"}},
	}
	s, err := interceptors.New(cfg, append([]interceptors.Option{interceptors.WithObserver(tr)}, suiteOpts...)...)
	if err != nil {
		t.Fatalf("interceptors.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e.suite, e.tr = s, tr
	opts := append(tr.DialOptions(), s.DialOptions()...)
	opts = append(opts, extra...)
	opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(otelobs.StatusCodeOnly(e.tp)))))
	cc := e.srv.Dial(t, opts...)
	e.face, e.ocr, e.live = kycv1.NewFaceMatchServiceClient(cc), kycv1.NewOCRServiceClient(cc), kycv1.NewLivenessServiceClient(cc)
	return e
}

// compare calls Compare under a parent span, as a verification would, and returns the spans.
func (e *env) compare(t *testing.T) (tracetest.SpanStubs, error) {
	t.Helper()
	ctx, parent := e.tp.Tracer("test").Start(context.Background(), "verification")
	_, err := e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: []byte(secret), DocumentFace: []byte(secret)})
	parent.End()
	spans := e.exp.GetSpans()
	e.exp.Reset()
	return spans, err
}

func quickRetry(attempts int) *retry.Config {
	return &retry.Config{MaxAttempts: attempts, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone}
}

func find(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %v", name, names(spans))
	return tracetest.SpanStub{}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(attrs []attribute.KeyValue, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range attrs {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func wantAttr(t *testing.T, what string, attrs []attribute.KeyValue, k attribute.Key, want any) {
	t.Helper()
	v, ok := attr(attrs, k)
	if !ok {
		t.Errorf("%s: no attribute %s", what, k)
		return
	}
	if got := v.AsInterface(); got != want {
		t.Errorf("%s: %s = %v (%T), want %v (%T)", what, k, got, got, want, want)
	}
}

func events(s tracetest.SpanStub, name string) []sdktrace.Event {
	var out []sdktrace.Event
	for _, ev := range s.Events {
		if ev.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// attemptSpans are otelgrpc's client spans: one per request sent.
func attemptSpans(spans tracetest.SpanStubs) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindClient {
			out = append(out, s)
		}
	}
	return out
}

// checkNoPayload fails when the request's personal data shows in any span of any origin
// (names, attribute keys and values, events, status description; otelgrpc's spans have
// StatusCodeOnly).
func checkNoPayload(t *testing.T, spans tracetest.SpanStubs) { checkNoText(t, spans, secret) }

// checkNoText fails when marker shows in any text of spans: a span's name, its status
// description, and the names, keys and values of its attributes and events.
func checkNoText(t *testing.T, spans tracetest.SpanStubs, marker string) {
	t.Helper()
	for _, s := range spans {
		text := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			text = append(text, string(kv.Key), kv.Value.String())
		}
		for _, ev := range s.Events {
			text = append(text, ev.Name)
			for _, kv := range ev.Attributes {
				text = append(text, string(kv.Key), kv.Value.String())
			}
		}
		for _, x := range text {
			if strings.Contains(x, marker) {
				t.Errorf("span %q (scope %s) carries personal data: %q", s.Name, s.InstrumentationScope.Name, x)
			}
		}
	}
}

func TestRetriedCallRecordsEachAttempt(t *testing.T) {
	srv := &testkit.Server{CompareF: func(_ context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		switch call {
		case 1:
			return nil, status.Error(grpccodes.Unavailable, "GPU node restarting")
		case 2:
			return nil, testkit.Throttled(3 * time.Millisecond) // the server chooses the sleep
		}
		return &kycv1.CompareResponse{Similarity: 0.9}, nil
	}}
	e := newEnv(t, config.Profile{Retry: quickRetry(4)}, srv)
	spans, err := e.compare(t)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	parent, call := find(t, spans, "verification"), find(t, spans, callSpanName)
	if call.Parent.SpanID() != parent.SpanContext.SpanID() {
		t.Errorf("call span's parent %v, want the verification span", call.Parent.SpanID())
	}
	if call.SpanKind != trace.SpanKindInternal {
		t.Errorf("call span kind %v, want internal (otelgrpc's attempt spans are the client spans)", call.SpanKind)
	}
	wantAttr(t, "call", call.Attributes, otelobs.KeyClass, "success")
	wantAttr(t, "call", call.Attributes, otelobs.KeyAttempts, int64(3))
	wantAttr(t, "call", call.Attributes, otelobs.KeyCode, int64(grpccodes.OK))
	if call.Status.Code == otelcodes.Error {
		t.Errorf("call span status %v, want unset for a success", call.Status)
	}

	type att struct {
		n     int64
		code  int64
		class string
	}
	var got []att
	for _, ev := range events(call, otelobs.EventAttempt) {
		n, _ := attr(ev.Attributes, otelobs.KeyAttempt)
		c, _ := attr(ev.Attributes, otelobs.KeyCode)
		cl, _ := attr(ev.Attributes, otelobs.KeyClass)
		got = append(got, att{n.AsInt64(), c.AsInt64(), cl.AsString()})
	}
	want := []att{{1, int64(grpccodes.Unavailable), "transient"}, {2, int64(grpccodes.ResourceExhausted), "throttled"}, {3, 0, "success"}}
	if !slices.Equal(got, want) {
		t.Errorf("attempt events %v, want %v", got, want)
	}
	retries := events(call, otelobs.EventRetry)
	if len(retries) != 2 {
		t.Fatalf("%d retry events, want 2", len(retries))
	}
	wantAttr(t, "retry 1", retries[0].Attributes, otelobs.KeyBackoffMs, 1.0) // initial backoff, no jitter
	wantAttr(t, "retry 1", retries[0].Attributes, otelobs.KeyPushback, false)
	wantAttr(t, "retry 2", retries[1].Attributes, otelobs.KeyBackoffMs, 3.0) // the server's RetryInfo
	wantAttr(t, "retry 2", retries[1].Attributes, otelobs.KeyPushback, true)

	// Beside otelgrpc, nothing is counted twice: otelgrpc has one client span per request
	// sent, each a child of the call span; bulwark adds no span per attempt.
	att3 := attemptSpans(spans)
	if len(att3) != 3 || e.srv.Calls(testkit.MethodCompare) != 3 {
		t.Fatalf("%d otelgrpc attempt spans, server saw %d calls; want 3 and 3", len(att3), e.srv.Calls(testkit.MethodCompare))
	}
	for _, s := range att3 {
		if s.Parent.SpanID() != call.SpanContext.SpanID() {
			t.Errorf("attempt span %q is not a child of the call span", s.Name)
		}
	}
	if n := len(spans); n != 5 {
		t.Errorf("%d spans %v, want 5: verification, call, three attempts", n, names(spans))
	}
	checkNoPayload(t, spans)
}

func TestHedgedCallRecordsTheHedge(t *testing.T) {
	srv := &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if len(md.Get(hedge.PreviousAttemptsKey)) == 0 {
			<-ctx.Done() // the first attempt never answers: the hedge must
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return &kycv1.CompareResponse{Similarity: 0.9}, nil
	}}
	e := newEnv(t, config.Profile{Retry: quickRetry(2), Hedge: &hedge.Config{Delay: 10 * time.Millisecond}}, srv)
	spans, err := e.compare(t)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	call := find(t, spans, callSpanName)
	wantAttr(t, "call", call.Attributes, otelobs.KeyClass, "success")
	wantAttr(t, "call", call.Attributes, otelobs.KeyHedgeWinner, int64(2))
	sent := events(call, otelobs.EventHedge)
	if len(sent) != 1 {
		t.Fatalf("%d hedge events, want 1", len(sent))
	}
	wantAttr(t, "hedge", sent[0].Attributes, otelobs.KeyAttempt, int64(2))
	wantAttr(t, "hedge", sent[0].Attributes, otelobs.KeyReason, "delay")
	if v, _ := attr(sent[0].Attributes, otelobs.KeyHedgeAfter); v.AsFloat64() < 10 {
		t.Errorf("hedge sent after %vms, want at least the 10ms delay", v.AsFloat64())
	}
	var hedged int
	for _, ev := range events(call, otelobs.EventAttempt) {
		if v, _ := attr(ev.Attributes, otelobs.KeyHedge); v.AsBool() {
			hedged++
			wantAttr(t, "hedged attempt", ev.Attributes, otelobs.KeyAttempt, int64(2))
			wantAttr(t, "hedged attempt", ev.Attributes, otelobs.KeyClass, "success")
		}
	}
	if hedged != 1 {
		t.Errorf("%d hedged attempt events, want 1", hedged)
	}
	if n := len(attemptSpans(spans)); n != 2 {
		t.Errorf("%d otelgrpc attempt spans, want 2 (the first and its hedge)", n)
	}
	checkNoPayload(t, spans)
}

func TestBreakerRejectionMarksTheCall(t *testing.T) {
	srv := &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return nil, status.Error(grpccodes.Unavailable, "down: "+secret) // a careless server quotes the request
	}}
	e := newEnv(t, config.Profile{Retry: quickRetry(1), Breaker: &breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}}, srv)
	for range 2 {
		spans, err := e.compare(t)
		if status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("failing call: %v", err)
		}
		call := find(t, spans, callSpanName)
		wantAttr(t, "failed call", call.Attributes, otelobs.KeyClass, "transient")
		if call.Status.Code != otelcodes.Error || call.Status.Description != "Unavailable" {
			t.Errorf("failed call status %+v, want Error with the code's name only", call.Status)
		}
		checkNoPayload(t, spans)
	}
	spans, err := e.compare(t)
	var rej *codes.Rejection
	if !errors.As(err, &rej) || rej.Policy != "breaker" {
		t.Fatalf("third call: %v, want the breaker's rejection", err)
	}
	call := find(t, spans, callSpanName)
	wantAttr(t, "rejected call", call.Attributes, otelobs.KeyClass, "rejected")
	wantAttr(t, "rejected call", call.Attributes, otelobs.KeyRejectedBy, "breaker")
	wantAttr(t, "rejected call", call.Attributes, otelobs.KeyReason, breaker.ReasonCircuitOpen)
	wantAttr(t, "rejected call", call.Attributes, otelobs.KeyBreaker, "open")
	if len(events(call, otelobs.EventRejected)) != 1 {
		t.Errorf("want one rejected event on the call span")
	}
	atts := events(call, otelobs.EventAttempt)
	if len(atts) != 1 {
		t.Fatalf("%d attempt events, want 1", len(atts))
	}
	wantAttr(t, "rejected attempt", atts[0].Attributes, otelobs.KeyClass, "rejected")
	if n := len(attemptSpans(spans)); n != 0 {
		t.Errorf("%d otelgrpc attempt spans, want none: the request never left", n)
	}
	checkNoPayload(t, spans)
}
