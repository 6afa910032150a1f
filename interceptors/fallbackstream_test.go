package interceptors_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// failedServerStream is a server stream that fails its first RecvMsg and, as gRPC's does, ends
// its context as it does.
type failedServerStream struct {
	grpc.ClientStream
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *failedServerStream) Context() context.Context { return s.ctx }
func (s *failedServerStream) SendMsg(any) error        { return nil }
func (s *failedServerStream) CloseSend() error         { return nil }
func (s *failedServerStream) RecvMsg(any) error {
	s.cancel()
	return testkit.Status(grpccodes.Unavailable, "down")
}

// Regression: a server stream that failed before its first message and that the fallback
// answered (its reply, then io.EOF) emitted no CallFinished when the caller did not call
// RecvMsg again at once: the fallback's stream gave the failed gRPC stream's ended context as
// its own, and the suite took its end for a stream gRPC ended with nobody reading.
func TestServerStreamFallbackReportsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const method = "/bulwark.test.Lister/List"
		s, rec, reply := listerFallback(t, method)
		open := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			sctx, cancel := context.WithCancel(ctx)
			return &failedServerStream{ctx: sctx, cancel: cancel}, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st, err := s.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, method, open)
		if err != nil {
			t.Fatal(err)
		}
		got := new(kycv1.CheckResponse)
		if err := st.RecvMsg(got); err != nil || !proto.Equal(got, reply) {
			t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
		}
		synctest.Wait() // the caller works on the reply; every context callback runs
		if err := st.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
			t.Fatalf("RecvMsg after the fallback = %v, want io.EOF", err)
		}
		synctest.Wait()
		wantOneAnsweredCall(t, rec)
	})
}

// Regression: a stream whose chain has no attempt loop reports its one attempt
// (AttemptFinished) as a retry loop of one attempt would, with the attempt's outcome, as a
// unary call does. The suite took that outcome from the stream the caller reads, above the
// fallback: a Check the service failed and the fallback answered counted as a successful
// attempt (bulwark_attempts_total code OK), the unary Compare beside it as an Unavailable one.
func TestStreamFallbackReportsTheFailedAttempt(t *testing.T) {
	srv := &testkit.Server{
		CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			return nil, unavailable()
		},
		CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
			for {
				if _, err := st.Recv(); err != nil {
					return unavailable()
				}
			}
		},
	}
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{}}}, // no retry section
		Services: map[string]config.Service{svcLiveness: {Profile: "p"}, svcFaceMatch: {Profile: "p"}}}
	e := newEnv(t, cfg, srv,
		interceptors.WithFallback(testkit.MethodCheck, fallback.Message(&kycv1.CheckResponse{Score: 0.5})),
		interceptors.WithFallback(testkit.MethodCompare, fallback.Message(&kycv1.CompareResponse{Similarity: 0.5})))
	if _, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("Compare = %v, want the fallback", err)
	}
	if _, err := e.check(context.Background(), 2); err != nil {
		t.Fatalf("Check = %v, want the fallback", err)
	}
	for _, method := range []string{testkit.MethodCompare, testkit.MethodCheck} {
		var atts, calls []observe.Event
		for _, ev := range e.rec.Events(observe.AttemptFinished) {
			if ev.Method == method {
				atts = append(atts, ev)
			}
		}
		for _, ev := range e.rec.Events(observe.CallFinished) {
			if ev.Method == method {
				calls = append(calls, ev)
			}
		}
		if len(atts) != 1 || atts[0].Code != grpccodes.Unavailable || len(calls) != 1 || calls[0].Code != grpccodes.OK {
			t.Errorf("%s: AttemptFinished %+v\nCallFinished %+v\nwant one attempt Unavailable (the service's answer) and one call OK (the fallback's)", method, atts, calls)
		}
	}
}

// Regression: a client stream whose send failed with an error the fallback answers (a message
// over the size limit: ResourceExhausted, which on_codes names) returned that error from SendMsg, and the
// suite reported the call finished with it; CloseAndRecv then returned the fallback, and
// FallbackServed followed: the observer saw the call fail and be answered, the caller got both.
// SendMsg now returns io.EOF, as gRPC does for a stream whose status RecvMsg returns, and the
// call finishes once, with the fallback.
func TestClientStreamSendFailureFallbackReportsTheCall(t *testing.T) {
	srv := &testkit.Server{
		CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
			for {
				if _, err := st.Recv(); err != nil {
					return st.SendAndClose(&kycv1.CheckResponse{Score: 1})
				}
			}
		},
	}
	reply := &kycv1.CheckResponse{Score: 0.5}
	for _, retry := range []bool{false, true} {
		// A message over a size limit is business (not replaced by default): on_codes asks.
		p := config.Profile{Fallback: &fallback.Config{OnCodes: []string{"RESOURCE_EXHAUSTED"}}}
		if retry { // a retry loop below the fallback ends its stream on the send's error too
			p.Retry = config.Builtin().Profiles["ml"].Retry
		}
		cfg := &config.Config{Budget: 5 * time.Second,
			Profiles: map[string]config.Profile{"p": p},
			Services: map[string]config.Service{svcLiveness: {Profile: "p"}}}
		e := newEnv(t, cfg, srv, interceptors.WithFallback(testkit.MethodCheck, fallback.Message(reply)))
		st, err := e.live.Check(context.Background(), grpc.MaxCallSendMsgSize(10))
		if err != nil {
			t.Fatal(err)
		}
		sendErr := st.Send(&kycv1.CheckRequest{Image: make([]byte, 100)})
		got, err := st.CloseAndRecv()
		if !errors.Is(sendErr, io.EOF) || err != nil || !proto.Equal(got, reply) {
			t.Errorf("retry %v: Send = %v, CloseAndRecv = %v, %v; want io.EOF, then the fallback", retry, sendErr, got, err)
		}
		calls := e.rec.Events(observe.CallFinished)
		served := e.rec.Events(observe.FallbackServed)
		if len(calls) != 1 || calls[0].Code != grpccodes.OK || len(served) != 1 || served[0].Code != grpccodes.ResourceExhausted {
			t.Errorf("retry %v: CallFinished %+v\nFallbackServed %+v\nwant one CallFinished OK (the fallback the caller got) and one FallbackServed ResourceExhausted", retry, calls, served)
		}
	}
}

// Regression: a server-streaming call whose request could not be sent, with an error the
// fallback answers (a request over the size limit, which on_codes names), failed with that error: its generated
// code returns SendMsg's error as the call's, and SendMsg returned it, while a unary call
// failing alike gets the fallback, as does a server stream failing before its first message.
// (A caller going on to RecvMsg got the fallback after the error, and the suite reported the
// call finished with the error beside FallbackServed.)
func TestServerStreamSendFailureFallbackReportsTheCall(t *testing.T) {
	const method = "/bulwark.test.Lister/List"
	srv := testkit.Start(t, &testkit.Server{}, grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
			return err
		}
		return st.SendMsg(&kycv1.CheckResponse{Score: 1})
	}))
	s, rec, reply := listerFallback(t, method, "RESOURCE_EXHAUSTED")
	cc := srv.Dial(t, s.DialOptions()...)
	// As generated code opens a server stream.
	st, err := cc.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, method, grpc.MaxCallSendMsgSize(50))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(&kycv1.CheckRequest{Image: make([]byte, 100)}); err != nil {
		t.Fatalf("SendMsg = %v, want nil: the stream's status (the fallback) is RecvMsg's", err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	got := new(kycv1.CheckResponse)
	if err := st.RecvMsg(got); err != nil || !proto.Equal(got, reply) {
		t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
	}
	if err := st.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
		t.Fatalf("RecvMsg after the fallback = %v, want io.EOF", err)
	}
	calls := rec.Events(observe.CallFinished)
	served := rec.Events(observe.FallbackServed)
	if len(calls) != 1 || calls[0].Code != grpccodes.OK || len(served) != 1 || served[0].Code != grpccodes.ResourceExhausted {
		t.Errorf("CallFinished %+v\nFallbackServed %+v\nwant one CallFinished OK (the fallback the caller got) and one FallbackServed ResourceExhausted", calls, served)
	}
}

// listerFallback returns a suite whose fallback answers method, a server stream of
// bulwark.test.Lister, with reply (on the codes onCodes names, else on its default classes),
// and the recorder of its events; it is closed with t.
func listerFallback(t *testing.T, method string, onCodes ...string) (*interceptors.Suite, *testkit.Recorder, *kycv1.CheckResponse) {
	t.Helper()
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{OnCodes: onCodes}}},
		Services: map[string]config.Service{"bulwark.test.Lister": {Profile: "p"}}}
	reply := &kycv1.CheckResponse{Score: 0.5}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithFallback(method, fallback.Message(reply)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, rec, reply
}

// wantOneAnsweredCall fails t unless rec holds one CallFinished, OK, and one FallbackServed:
// a call the fallback answered, reported once.
func wantOneAnsweredCall(t *testing.T, rec *testkit.Recorder) {
	t.Helper()
	calls := rec.Events(observe.CallFinished)
	if len(calls) != 1 || calls[0].Code != grpccodes.OK || rec.Count(observe.FallbackServed) != 1 {
		t.Fatalf("CallFinished %+v, %d FallbackServed; want one CallFinished OK and one FallbackServed", calls, rec.Count(observe.FallbackServed))
	}
}
