package otelobs_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// kindSink records the kinds of the events it gets.
type kindSink struct {
	mu    sync.Mutex
	kinds []string
}

func (s *kindSink) Observe(e observe.Event) {
	s.mu.Lock()
	s.kinds = append(s.kinds, e.Kind.String())
	s.mu.Unlock()
}

func (s *kindSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds
	s.kinds = nil
	return k
}

// A caller's own call sink (observe.WithCallSink) gets its call's events through a traced
// connection as through an untraced one: the tracer's recorder, which takes its place in the
// call's context, passes them on. The caller's sink got nothing once the tracer was in front.
func TestCallersCallSinkGetsTheCallsEvents(t *testing.T) {
	srv := &testkit.Server{CompareF: testkit.FailFirst(1, status.Error(grpccodes.Unavailable, "down"))}
	e := newEnv(t, config.Profile{Retry: quickRetry(3)}, srv)
	// The budget's cap on a call without a deadline (DeadlineApplied) is the call's own event too.
	want := []string{"deadline_applied", "attempt_finished", "retry_scheduled", "attempt_finished", "call_finished"}

	own := new(kindSink)
	ctx, parent := e.tp.Tracer("test").Start(observe.WithCallSink(context.Background(), own), "verification")
	if _, err := e.face.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("Compare: %v", err)
	}
	parent.End()
	if got := own.take(); !slices.Equal(got, want) {
		t.Errorf("the caller's call sink got %v, want %v", got, want)
	}
	call := find(t, e.exp.GetSpans(), callSpanName)
	if n := len(events(call, otelobs.EventAttempt)); n != 2 {
		t.Errorf("%d attempt events on the call span, want 2", n)
	}
}

// A call nested in a traced call (made with its context, through the tracer again: here from
// an interceptor below the suite) passes its events on to the caller's sink once, and stays
// off the enclosing call's span.
func TestCallersCallSinkGetsANestedCallsEvents(t *testing.T) {
	var e *env
	nest := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == testkit.MethodCompare {
			if _, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{}); err != nil {
				return err
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	e = newEnv(t, config.Profile{Retry: quickRetry(3)}, &testkit.Server{}, nest)
	own := new(methodSink)
	ctx, parent := e.tp.Tracer("test").Start(observe.WithCallSink(context.Background(), own), "verification")
	if _, err := e.face.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("Compare: %v", err)
	}
	parent.End()
	// Compare's deadline (the budget's cap) bounds the nested Extract too, which sets none.
	want := []string{
		"deadline_applied " + testkit.MethodCompare,
		"attempt_finished " + testkit.MethodExtract, "call_finished " + testkit.MethodExtract,
		"attempt_finished " + testkit.MethodCompare, "call_finished " + testkit.MethodCompare,
	}
	if got := own.take(); !slices.Equal(got, want) {
		t.Errorf("the caller's call sink got %v, want %v", got, want)
	}
	spans := e.exp.GetSpans()
	call := find(t, spans, callSpanName)
	if n := len(events(call, otelobs.EventAttempt)); n != 1 {
		t.Errorf("%d attempt events on the Compare span, want 1 (its own)", n)
	}
	inner := find(t, spans, "bulwark "+testkit.MethodExtract)
	if inner.Parent.SpanID() != call.SpanContext.SpanID() {
		t.Errorf("the nested call's span is not a child of the Compare span")
	}
	if n := len(events(inner, otelobs.EventAttempt)); n != 1 {
		t.Errorf("%d attempt events on the Extract span, want 1", n)
	}
}

// methodSink records the kinds and methods of the events it gets.
type methodSink struct{ kindSink }

func (s *methodSink) Observe(e observe.Event) {
	s.mu.Lock()
	s.kinds = append(s.kinds, e.Kind.String()+" "+e.Method)
	s.mu.Unlock()
}
