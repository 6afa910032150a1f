package otelobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// recvPanics is a gRPC stream whose RecvMsg panics (an interceptor below the suite with a bug).
type recvPanics struct{ ctx context.Context }

func (s recvPanics) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (s recvPanics) Trailer() metadata.MD         { return nil }
func (s recvPanics) CloseSend() error             { return nil }
func (s recvPanics) Context() context.Context     { return s.ctx }
func (s recvPanics) SendMsg(any) error            { return nil }
func (s recvPanics) RecvMsg(any) error            { panic("recv") }

// Regression: a stream whose RecvMsg panicked below the tracer kept its call span open until
// the caller's context ended (then ended as abandoned, Canceled), where a unary call that
// panics ends its span at the panic, status Error "panic". The suite sends no CallFinished
// for a call that panics, so the stream's end must end the span: it now does at the panic,
// as the unary call's, with a retry step and without.
func TestStreamThatPanicsEndsItsSpan(t *testing.T) {
	for name, p := range map[string]config.Profile{
		"retry":   {Retry: quickRetry(2), Bulkhead: &bulkhead.Config{MaxConcurrent: 2}},
		"noretry": {Bulkhead: &bulkhead.Config{MaxConcurrent: 2}},
	} {
		t.Run(name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			tr := otelobs.New(otelobs.WithTracerProvider(tp))
			cfg := &config.Config{Budget: 5 * time.Second, Profiles: map[string]config.Profile{"p": p},
				Services: map[string]config.Service{"kyc.v1.LivenessService": {Profile: "p"}}}
			s, err := interceptors.New(cfg, interceptors.WithObserver(tr))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				return s.Stream()(ctx, desc, cc, method, func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					return recvPanics{ctx}, nil
				}, opts...)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cs, err := tr.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() {
					if v := recover(); v != "recv" {
						t.Errorf("the caller recovered %v, want the panic \"recv\" unchanged", v)
					}
				}()
				_ = cs.RecvMsg(nil)
			}()
			spans := exp.GetSpans() // The caller's context still live.
			if len(spans) != 1 {
				t.Fatalf("ended spans %v after the panic, want the call span", names(spans))
			}
			if got := spans[0].Status; got.Code != otelcodes.Error || got.Description != "panic" {
				t.Errorf("call span status %+v, want Error described as panic", got)
			}
			for _, a := range spans[0].Attributes {
				if a.Key == otelobs.KeyAbandoned {
					t.Errorf("call span of a stream that panicked carries %v", a)
				}
			}
		})
	}
}
