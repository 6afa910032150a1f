package otelobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// gate holds the first SetAttributes that sets bulwark.class on a gatedSpan until release is
// closed, after telling entered: the moment a call's end is being written on its span.
type gate struct {
	once             sync.Once
	entered, release chan struct{}
}

// provider returns a provider of tp's spans that g holds.
func (g *gate) provider(tp trace.TracerProvider) trace.TracerProvider {
	return &wrappingProvider{tp: tp, wrap: func(s trace.Span) trace.Span { return gatedSpan{Span: s, g: g} }}
}

type gatedSpan struct {
	trace.Span
	g *gate
}

func (s gatedSpan) SetAttributes(kv ...attribute.KeyValue) {
	for _, a := range kv {
		if a.Key == otelobs.KeyClass {
			s.g.once.Do(func() {
				close(s.g.entered)
				<-s.g.release
			})
			break
		}
	}
	s.Span.SetAttributes(kv...)
}

// A stream whose end the suite reports from another goroutine while the stream is still
// opening (its caller's context ended as it opened: the suite's watch of that context reports
// the end) must keep the end's attributes and status on its span: the span may only end once
// they are written.
func TestStreamEndedWhileOpeningKeepsItsOutcome(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	gp := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	tr := otelobs.New(otelobs.WithTracerProvider(gp.provider(tp)))

	var reported sync.WaitGroup
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		sink := observe.CallSinkFrom(ctx)
		if sink == nil {
			t.Fatal("no call sink in the stream's context")
		}
		reported.Go(func() {
			sink.Observe(observe.Event{Kind: observe.CallFinished, Time: time.Now(), Method: method,
				Policy: observe.PolicySuite, Attempt: 1, Code: grpccodes.Canceled, Class: codes.Canceled})
		})
		<-gp.entered // the end is being written on the span as the stream finishes opening
		return struct{ grpc.ClientStream }{}, nil
	}
	if _, err := tr.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, "/kyc.v1.LivenessService/Check", streamer); err != nil {
		t.Fatal(err)
	}
	close(gp.release)
	reported.Wait()

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended %v, want the call span", len(spans), names(spans))
	}
	wantAttr(t, "call", spans[0].Attributes, otelobs.KeyClass, "canceled")
	wantAttr(t, "call", spans[0].Attributes, otelobs.KeyCode, int64(grpccodes.Canceled))
	if spans[0].Status.Code != otelcodes.Error || spans[0].Status.Description != "Canceled" {
		t.Errorf("call span status %+v, want Error, Canceled", spans[0].Status)
	}
}

// A nil *codes.Rejection (a policy's bug, which codes reads as an unnamed rejection) ends the
// call like any other error: the tracer records it as a rejection by no named policy and does
// not turn it into a panic of the caller's call.
func TestNilRejectionDoesNotPanic(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelobs.New(otelobs.WithTracerProvider(tp))
	var nilRej *codes.Rejection
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nilRej }

	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("the call panicked: %v", p)
			}
		}()
		err = tr.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker)
	}()
	if err != error(nilRej) {
		t.Errorf("the call returned %v, want the policy's error as it is", err)
	}
	call := find(t, exp.GetSpans(), callSpanName)
	if call.Status.Code != otelcodes.Error || call.Status.Description != "Unavailable" {
		t.Errorf("call span status %+v, want Error, Unavailable", call.Status)
	}
	if n := len(events(call, otelobs.EventRejected)); n != 1 {
		t.Errorf("%d rejected events, want 1", n)
	}
}
