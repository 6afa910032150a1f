package otelobs_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// Regression: a stream the fallback stood in for (its open failed) or answered (its reply
// served, or its send failed, before the caller read its io.EOF or its reply) gave the caller's
// context as its own, which a ClientConn's shutdown does not end: a caller that neither read
// it to its end nor canceled kept it open past the Close of its ClientConn, its call span
// never ended and what the policies above held for it held, where gRPC ends every stream of a
// ClientConn that shuts down. Such a stream now ends then, reported as every stream abandoned
// at a ClientConn's shutdown: its span ends abandoned, Canceled; the suite reports no
// CallFinished (nor a FallbackServed: nobody read the reply); and a reply not read yet stays
// readable, as gRPC keeps the status of a stream that came before the shutdown.
func TestFallbackStreamOfAClosedConnEnds(t *testing.T) {
	checkReply := &kycv1.CheckResponse{Score: 0.5}
	const listMethod = "/bulwark.test.Lister/List"
	for _, tc := range []struct {
		name   string
		suite  bool // the fallback is the suite's, the tracer in front of it
		method string
		desc   *grpc.StreamDesc
		below  string // "open" fails at open; "recv" fails its first RecvMsg; "send" its SendMsg
		read   bool   // the caller reads the fallback's message (and not its io.EOF)
	}{
		{name: "open failed", method: testkit.MethodCheck, desc: &grpc.StreamDesc{ClientStreams: true}, below: "open"},
		{name: "open failed, suite", suite: true, method: testkit.MethodCheck, desc: &grpc.StreamDesc{ClientStreams: true}, below: "open"},
		{name: "open failed, server-streaming, read", method: listMethod, desc: &grpc.StreamDesc{ServerStreams: true}, below: "open", read: true},
		{name: "served, io.EOF unread", method: listMethod, desc: &grpc.StreamDesc{ServerStreams: true}, below: "recv", read: true},
		{name: "send failed", method: testkit.MethodCheck, desc: &grpc.StreamDesc{ClientStreams: true}, below: "send"},
		{name: "send failed, suite", suite: true, method: testkit.MethodCheck, desc: &grpc.StreamDesc{ClientStreams: true}, below: "send"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ended := make(endedSpans, 16)
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ended))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			tr := otelobs.New(otelobs.WithTracerProvider(tp))
			below := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ grpc.Streamer, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				if tc.below == "open" {
					return nil, testkit.Status(grpccodes.Unavailable, "down")
				}
				sctx, cancel := context.WithCancel(ctx)
				return &testkit.FailingStream{Ctx: sctx, Cancel: cancel, Send: tc.below == "send"}, nil
			}
			events := make(chan observe.Kind, 16)
			opts := tr.DialOptions()
			if tc.suite {
				sink := observe.SinkFunc(func(e observe.Event) { events <- e.Kind })
				s, err := interceptors.New(&config.Config{Budget: 5 * time.Second,
					Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{}}},
					Services: map[string]config.Service{"kyc.v1.LivenessService": {Profile: "p"}}},
					interceptors.WithObserver(observe.Multi(tr, sink)), interceptors.WithFallback(tc.method, fallback.Message(checkReply)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				opts = append(opts, grpc.WithChainStreamInterceptor(s.Stream(), below))
			} else {
				f, err := fallback.New(tc.method, fallback.Config{}, fallback.Message(checkReply))
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, grpc.WithChainStreamInterceptor(f.Stream(), below))
			}
			cc := testkit.Start(t, &testkit.Server{}).Dial(t, opts...)
			cs, err := cc.NewStream(context.Background(), tc.desc, tc.method) // a context that never ends
			if err != nil {
				t.Fatal(err)
			}
			if tc.below == "send" {
				if err := cs.SendMsg(&kycv1.CheckRequest{}); !errors.Is(err, io.EOF) {
					t.Fatalf("SendMsg = %v, want io.EOF", err)
				}
			}
			if tc.read {
				got := new(kycv1.CheckResponse)
				if err := cs.RecvMsg(got); err != nil || !proto.Equal(got, checkReply) {
					t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
				}
			}
			if err := cc.Close(); err != nil { // and never read the stream (to its end)
				t.Fatal(err)
			}
			callSpan := "bulwark " + tc.method
			var stub tracetest.SpanStub
			timeout := time.After(10 * time.Second) // a bound on a failure, not a wait for success
			for stub.Name != callSpan {
				select {
				case span := <-ended: // an attempt's span, or the call's
					stub = tracetest.SpanStubFromReadOnlySpan(span)
				case <-timeout:
					t.Fatal("the call span did not end when the stream's ClientConn shut down")
				}
			}
			want := map[attribute.Key]attribute.Value{
				otelobs.KeyAbandoned: attribute.BoolValue(true),
				otelobs.KeyCode:      attribute.Int64Value(int64(grpccodes.Canceled)),
			}
			for _, kv := range stub.Attributes {
				if w, ok := want[kv.Key]; ok {
					if kv.Value != w {
						t.Errorf("span %q: %s = %v, want %v", stub.Name, kv.Key, kv.Value.String(), w.String())
					}
					delete(want, kv.Key)
				}
			}
			for k, v := range want {
				t.Errorf("span %q: no %s, want %v", stub.Name, k, v.String())
			}
			if stub.Status.Code != otelcodes.Error || stub.Status.Description != "Canceled" {
				t.Errorf("span %q status %+v, want Error, Canceled", stub.Name, stub.Status)
			}
			if tc.suite { // its report of the stream: its one attempt, abandoned; no call
				seen := map[observe.Kind]int{}
				for seen[observe.AttemptFinished] == 0 {
					select {
					case k := <-events:
						seen[k]++
					case <-timeout:
						t.Fatalf("the suite reported no AttemptFinished for the stream abandoned at its ClientConn's shutdown (events %v)", seen)
					}
				}
				if seen[observe.CallFinished]+seen[observe.FallbackServed] != 0 || seen[observe.AttemptFinished] != 1 {
					t.Errorf("the suite reported %v for a stream abandoned at its ClientConn's shutdown, want one AttemptFinished, no CallFinished nor FallbackServed", seen)
				}
			}
			// What the stream answers is its outcome still, as a gRPC stream's status that came
			// before the shutdown is.
			got := new(kycv1.CheckResponse)
			if !tc.read {
				if err := cs.RecvMsg(got); err != nil || !proto.Equal(got, checkReply) {
					t.Fatalf("RecvMsg after the shutdown = %v, %v; want the fallback", got, err)
				}
			}
			if tc.desc.ServerStreams {
				if err := cs.RecvMsg(got); !errors.Is(err, io.EOF) {
					t.Fatalf("RecvMsg after the fallback = %v, want io.EOF", err)
				}
			}
			if err := tp.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			for len(ended) > 0 {
				if s := <-ended; s.Name() == callSpan {
					t.Errorf("the call span ended twice")
				}
			}
			for len(events) > 0 { // the late read serves the fallback, and ends nothing again
				if k := <-events; k != observe.FallbackServed {
					t.Errorf("the suite reported %v after the stream ended, at a read of its reply", k)
				}
			}
		})
	}
}
