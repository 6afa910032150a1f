package throttle

import (
	"context"
	"errors"
	"io"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// seqRand returns a deterministic, evenly spread sequence in [0, 1) (the fractional parts of
// multiples of the golden ratio), safe for concurrent use.
func seqRand() func() float64 {
	var n atomic.Uint64
	return func() float64 {
		_, frac := math.Modf(float64(n.Add(1)) * 0.6180339887498949)
		return frac
	}
}

func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("err %v is not a status", err)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("status %v has no ErrorInfo", st)
	return nil
}

// TestAgainstOverloadedStub runs the throttle against a stub that turns every other call away
// with ResourceExhausted, then recovers. With K = 1.5 the client may send 1.5 requests per
// accept; the stub accepts one in two of what it receives, so the formula rises to its cap and
// only about a tenth of the calls still reach the stub. (With K = 2 the formula would sit at 0,
// its boundary: K = 2 tolerates up to half of the requests being turned away.)
func TestAgainstOverloadedStub(t *testing.T) {
	const step = 50 * time.Millisecond // Fake time between calls: 200 calls per 10 s window.
	var recovered atomic.Bool
	srv := testkit.Start(t, &testkit.Server{CompareF: func(_ context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if !recovered.Load() && call%2 == 0 {
			return nil, status.Error(grpccodes.ResourceExhausted, "overloaded")
		}
		return &kycv1.CompareResponse{Similarity: 0.93}, nil
	}})
	th, clk, rec := newTest(t, Config{K: 1.5, Window: 10 * time.Second}, WithRand(seqRand()))
	client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, grpc.WithUnaryInterceptor(th.Unary())))

	// phase makes n calls, step apart, and returns the share that reached the stub.
	phase := func(name string, n int) float64 {
		t.Helper()
		before := srv.Calls(testkit.MethodCompare)
		throttled := 0
		for range n {
			_, err := client.Compare(context.Background(), &kycv1.CompareRequest{})
			switch {
			case errors.Is(err, ErrThrottled):
				throttled++
				if status.Code(err) != grpccodes.Unavailable {
					t.Fatalf("%s: throttled with %v, want Unavailable", name, status.Code(err))
				}
				if info := errorInfo(t, err); info.GetReason() != ReasonThrottled || info.GetMetadata()["policy"] != observe.PolicyAdaptiveThrottle || info.GetMetadata()["service"] != svc {
					t.Fatalf("%s: ErrorInfo = %v", name, info)
				}
			case err != nil && status.Code(err) != grpccodes.ResourceExhausted:
				t.Fatalf("%s: err = %v, want the stub's ResourceExhausted or a local rejection", name, err)
			}
			clk.Advance(step)
		}
		sent := srv.Calls(testkit.MethodCompare) - before
		if sent+throttled != n {
			t.Fatalf("%s: %d sent + %d throttled != %d calls", name, sent, throttled, n)
		}
		frac := float64(sent) / float64(n)
		r, a := th.Counts()
		t.Logf("%-9s %4d calls: %5.1f%% reached the stub; window %d requests, %d accepts, p = %.3f", name, n, 100*frac, r, a, th.Probability())
		return frac
	}

	phase("warm-up", 200)
	if frac := phase("overload", 400); frac >= 0.25 {
		t.Fatalf("%.1f%% of calls reached the overloaded stub after warm-up, want below 25%%", 100*frac)
	}
	if p := th.Probability(); p < 0.8 || p > 0.9 {
		t.Fatalf("Probability() = %v under overload, want near the cap 0.9", p)
	}
	evs := rec.Events(observe.Rejected)
	if len(evs) == 0 {
		t.Fatal("no Rejected events")
	}
	for _, e := range evs {
		if e.Policy != observe.PolicyAdaptiveThrottle || e.Reason != Reason || e.Method != testkit.MethodCompare || e.Value <= 0 || e.Value > 0.9 {
			t.Fatalf("event %+v", e)
		}
	}

	// Recovery is gradual: local rejections still count as requests, so the share sent grows
	// by up to a factor K per window from the cap's tenth (three windows here).
	recovered.Store(true)
	windows := 0
	for th.Probability() > 0 {
		if windows++; windows > 8 {
			t.Fatalf("Probability() = %v eight windows after the stub recovered, want 0", th.Probability())
		}
		phase("recovery", 200)
	}
	if frac := phase("recovered", 200); frac < 0.99 {
		t.Fatalf("%.1f%% of calls reached the recovered stub, want nearly all", 100*frac)
	}
}

// invokerReturning is a unary invoker that answers err without a network.
func invokerReturning(err error) grpc.UnaryInvoker {
	return func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return err }
}

func TestUnaryAccounting(t *testing.T) {
	unavailableIsBusiness, err := codes.Default().With(codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                      string
		invokerErr                error
		overloaded                bool // the window holds 100 failures and every draw rejects
		cancel                    bool // the caller's context is cancelled when the call ends
		expired                   bool // the caller's deadline passed before the call
		opts                      []grpc.CallOption
		wantInvoked               bool
		wantRequests, wantAccepts int64 // what the call added to the window
	}{
		{name: "ok", wantInvoked: true, wantRequests: 1, wantAccepts: 1},
		{name: "business error", invokerErr: testkit.Status(grpccodes.InvalidArgument, "DOCUMENT_UNREADABLE"), wantInvoked: true, wantRequests: 1, wantAccepts: 1},
		{name: "throttled by the service", invokerErr: testkit.Throttled(time.Second), wantInvoked: true, wantRequests: 1},
		{name: "unavailable", invokerErr: testkit.Status(grpccodes.Unavailable, ""), wantInvoked: true, wantRequests: 1},
		{name: "caller cancelled", invokerErr: status.Error(grpccodes.Canceled, "context canceled"), cancel: true, wantInvoked: true},
		{name: "caller cancelled, any error", invokerErr: testkit.Status(grpccodes.Unavailable, ""), cancel: true, wantInvoked: true},
		{name: "rejected by an inner policy", invokerErr: &codes.Rejection{Code: grpccodes.ResourceExhausted, Reason: "BULKHEAD_FULL", Policy: observe.PolicyBulkhead}, wantInvoked: true},
		{name: "per-call classifier", invokerErr: testkit.Status(grpccodes.Unavailable, ""), opts: []grpc.CallOption{WithCallClassifier(unavailableIsBusiness)}, wantInvoked: true, wantRequests: 1, wantAccepts: 1},
		{name: "throttled locally", overloaded: true, wantRequests: 1},
		// grpc fails such a call before sending it: neither throttled nor counted.
		{name: "caller deadline passed before the call", invokerErr: status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded"), expired: true, overloaded: true, wantInvoked: true},
		{name: "Disable bypasses an overloaded throttle", overloaded: true, opts: []grpc.CallOption{Disable()}, wantInvoked: true},
		{name: "Disable counts nothing", invokerErr: testkit.Status(grpccodes.Unavailable, ""), opts: []grpc.CallOption{Disable()}, wantInvoked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			draw := 0.99
			if tt.overloaded {
				draw = 0
			}
			th, _, _ := newTest(t, Config{}, WithRand(constRand(draw)))
			if tt.overloaded {
				fill(th, 100, 0)
			}
			r0, a0 := th.Counts()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.expired {
				ctx, cancel = context.WithDeadline(ctx, time.Unix(1, 0))
				defer cancel()
			}
			invoked := false
			invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				invoked = true
				if tt.cancel {
					cancel()
				}
				return invokerReturning(tt.invokerErr)(ctx, method, req, reply, cc, opts...)
			}
			err := th.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, invoker, tt.opts...)
			if invoked != tt.wantInvoked {
				t.Fatalf("invoked = %v, want %v (err %v)", invoked, tt.wantInvoked, err)
			}
			if tt.wantInvoked && !errors.Is(err, tt.invokerErr) {
				t.Fatalf("err = %v, want the invoker's %v", err, tt.invokerErr)
			}
			if !tt.wantInvoked && !errors.Is(err, ErrThrottled) {
				t.Fatalf("err = %v, want ErrThrottled", err)
			}
			r, a := th.Counts()
			if r-r0 != tt.wantRequests || a-a0 != tt.wantAccepts {
				t.Fatalf("the call added %d requests, %d accepts, want %d, %d", r-r0, a-a0, tt.wantRequests, tt.wantAccepts)
			}
		})
	}
}

func TestUnaryPanicCountsNothing(t *testing.T) {
	th, _, _ := newTest(t, Config{})
	defer func() {
		if recover() == nil {
			t.Fatal("the panic did not go on")
		}
		if r, a := th.Counts(); r != 0 || a != 0 {
			t.Fatalf("Counts() = %d, %d after a panicking invoker, want 0, 0", r, a)
		}
	}()
	_ = th.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		panic("invoker")
	})
}

func TestUnaryAllocs(t *testing.T) {
	th, _, _ := newTest(t, Config{}, WithRand(constRand(0.99)))
	fill(th, 1000, 0) // p at the cap: every call draws, and the draw admits.
	ic := th.Unary()
	ctx := context.Background()
	ok := invokerReturning(nil)
	if n := testing.AllocsPerRun(200, func() { _ = ic(ctx, testkit.MethodCompare, nil, nil, nil, ok) }); n != 0 {
		t.Fatalf("%v allocs per call, want 0", n)
	}
}

// fakeStream is a grpc.ClientStream that answers RecvMsg and SendMsg from scripts. Its context
// is a child of the caller's, as gRPC's is, with end standing for gRPC finishing the stream.
type fakeStream struct {
	grpc.ClientStream
	ctx  context.Context
	end  context.CancelFunc
	recv []error // RecvMsg returns these in turn, then io.EOF.
	send error
}

func (f *fakeStream) Context() context.Context { return f.ctx }
func (f *fakeStream) SendMsg(any) error        { return f.send }
func (f *fakeStream) RecvMsg(any) error {
	if len(f.recv) == 0 {
		return io.EOF
	}
	err := f.recv[0]
	f.recv = f.recv[1:]
	return err
}

// waitDone waits until s has recorded its outcome.
func waitDone(t *testing.T, cs grpc.ClientStream) {
	t.Helper()
	s := cs.(*streamend.Stream)
	deadline := time.Now().Add(5 * time.Second)
	for !ended(s) {
		if time.Now().After(deadline) {
			t.Fatal("the stream never recorded its outcome")
		}
		time.Sleep(time.Millisecond)
	}
}

// ended reports whether s has ended.
func ended(cs grpc.ClientStream) bool {
	_, ok := cs.(*streamend.Stream).Ended()
	return ok
}

func TestStreamAccounting(t *testing.T) {
	errRE := status.Error(grpccodes.ResourceExhausted, "overloaded")
	errInternal := status.Error(grpccodes.Internal, "marshal")
	tests := []struct {
		name          string
		serverStreams bool
		overloaded    bool  // the window holds 100 failures and every draw rejects
		openErr       error // the streamer fails
		recv          []error
		send          error
		opts          []grpc.CallOption
		// use drives the stream; the test then reads RecvMsg until it fails, three more
		// times, to check that nothing is counted twice.
		use                       func(t *testing.T, cs grpc.ClientStream, f *fakeStream, cancel context.CancelFunc)
		wantOpened                bool
		wantRequests, wantAccepts int64
	}{
		{name: "server streaming to io.EOF", serverStreams: true, recv: []error{nil, nil, nil}, wantOpened: true, wantRequests: 1, wantAccepts: 1},
		{name: "server streaming fails", serverStreams: true, recv: []error{nil, errRE}, wantOpened: true, wantRequests: 1},
		{name: "business error", serverStreams: true, recv: []error{testkit.Status(grpccodes.NotFound, "")}, wantOpened: true, wantRequests: 1, wantAccepts: 1},
		{name: "single reply", recv: []error{nil}, wantOpened: true, wantRequests: 1, wantAccepts: 1,
			use: func(t *testing.T, cs grpc.ClientStream, _ *fakeStream, _ context.CancelFunc) {
				if err := cs.RecvMsg(nil); err != nil {
					t.Fatal(err)
				}
				waitDone(t, cs)
			}},
		{name: "open rejected locally", overloaded: true, wantRequests: 1},
		{name: "open fails", openErr: status.Error(grpccodes.Unavailable, "down"), wantRequests: 1},
		{name: "send fails on this side", send: errInternal, recv: []error{errInternal}, wantOpened: true, wantRequests: 1,
			use: func(t *testing.T, cs grpc.ClientStream, _ *fakeStream, _ context.CancelFunc) {
				if err := cs.SendMsg(nil); !errors.Is(err, errInternal) {
					t.Fatal(err)
				}
				waitDone(t, cs)
			}},
		{name: "send io.EOF leaves the status to RecvMsg", send: io.EOF, recv: []error{testkit.Status(grpccodes.InvalidArgument, "")}, wantOpened: true, wantRequests: 1, wantAccepts: 1,
			use: func(t *testing.T, cs grpc.ClientStream, _ *fakeStream, _ context.CancelFunc) {
				if err := cs.SendMsg(nil); err != io.EOF {
					t.Fatal(err)
				}
				if ended(cs) {
					t.Fatal("io.EOF from SendMsg recorded the outcome")
				}
			}},
		{name: "caller aborts", serverStreams: true, recv: []error{nil, status.Error(grpccodes.Canceled, "context canceled")}, wantOpened: true,
			use: func(t *testing.T, cs grpc.ClientStream, f *fakeStream, cancel context.CancelFunc) {
				if err := cs.RecvMsg(nil); err != nil {
					t.Fatal(err)
				}
				cancel()
				waitDone(t, cs)
			}},
		// gRPC ended the stream (its connection closed, a Header error) while nobody read it:
		// its status was never seen, and a RecvMsg after that does not count it either. The
		// caller asked for the stream's context first, which commits it in gRPC, as its
		// response starting does: the stream's context is watched only from then on.
		{name: "gRPC ends the stream nobody reads: counts nothing", serverStreams: true, recv: []error{errRE}, wantOpened: true,
			use: func(t *testing.T, cs grpc.ClientStream, f *fakeStream, _ context.CancelFunc) {
				_ = cs.Context()
				f.end()
				waitDone(t, cs)
			}},
		{name: "Disable", serverStreams: true, recv: []error{errRE}, opts: []grpc.CallOption{Disable()}, wantOpened: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			draw := 0.99
			if tt.overloaded {
				draw = 0
			}
			th, _, _ := newTest(t, Config{}, WithRand(constRand(draw)))
			if tt.overloaded {
				fill(th, 100, 0)
			}
			r0, a0 := th.Counts()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var f *fakeStream
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				if tt.openErr != nil {
					return nil, tt.openErr
				}
				sctx, end := context.WithCancel(ctx)
				f = &fakeStream{ctx: sctx, end: end, recv: tt.recv, send: tt.send}
				return f, nil
			}
			desc := &grpc.StreamDesc{ServerStreams: tt.serverStreams, ClientStreams: true}
			cs, err := th.Stream()(ctx, desc, nil, testkit.MethodCheck, streamer, tt.opts...)
			if (cs != nil) != tt.wantOpened {
				t.Fatalf("opened = %v, want %v (err %v)", cs != nil, tt.wantOpened, err)
			}
			if cs != nil {
				defer f.end()
				if tt.use != nil {
					tt.use(t, cs, f, cancel)
				}
				for cs.RecvMsg(nil) == nil {
				}
				for range 3 {
					_ = cs.RecvMsg(nil)
				}
				cancel()
				if s, ok := cs.(*streamend.Stream); ok {
					waitDone(t, s)
				} else if disabled, _ := callSettings(nil, tt.opts); !disabled {
					t.Fatalf("the stream is a %T, not throttled", cs)
				}
			} else if tt.openErr == nil && !errors.Is(err, ErrThrottled) {
				t.Fatalf("err = %v, want ErrThrottled", err)
			}
			r, a := th.Counts()
			if r-r0 != tt.wantRequests || a-a0 != tt.wantAccepts {
				t.Fatalf("the stream added %d requests, %d accepts, want %d, %d", r-r0, a-a0, tt.wantRequests, tt.wantAccepts)
			}
		})
	}
}

// A stream whose caller's deadline passes while it is open is a request that was not
// accepted; one whose deadline had passed before it opened, which grpc fails before sending
// anything, is neither throttled nor counted (before the fix it was throttled by an
// overloaded window, and counted).
func TestStreamDeadline(t *testing.T) {
	th, _, _ := newTest(t, Config{})
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		return &fakeStream{ctx: ctx}, nil
	}
	expiring := testkit.NewExpiring(t, context.Background())
	cs, err := th.Stream()(expiring, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	expiring.Expire()
	waitDone(t, cs) // The caller's deadline passes with the stream open.
	if r, a := th.Counts(); r != 1 || a != 0 {
		t.Fatalf("Counts() = %d, %d, want 1 request that was not accepted", r, a)
	}

	th, _, _ = newTest(t, Config{}, WithRand(constRand(0)))
	fill(th, 100, 0)
	r0, a0 := th.Counts()
	ended, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	deadlineExceeded := status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
	_, err = th.Stream()(ended, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, deadlineExceeded
	})
	if !errors.Is(err, deadlineExceeded) {
		t.Fatalf("open past the deadline = %v, want the streamer's DeadlineExceeded", err)
	}
	if r, a := th.Counts(); r != r0 || a != a0 {
		t.Fatalf("Counts() = %d, %d after a stream opened past its deadline, want %d, %d", r, a, r0, a0)
	}
}

// TestStreamOverBufconn drives the stub's client-streaming Check through the interceptor: one
// stream read to its reply, one aborted by its caller.
func TestStreamOverBufconn(t *testing.T) {
	held := make(chan struct{})
	srv := testkit.Start(t, &testkit.Server{CheckF: func(call int, stream kycv1.LivenessService_CheckServer) error {
		if call == 2 {
			close(held)
			<-stream.Context().Done() // Hold the stream until the caller aborts it.
			return stream.Context().Err()
		}
		return testkit.DrainCheck(stream, 0.9)
	}})
	th, _, _ := newTest(t, Config{})
	client := kycv1.NewLivenessServiceClient(srv.Dial(t, grpc.WithStreamInterceptor(th.Stream())))

	st, err := client.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := st.Send(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if r, a := th.Counts(); r != 1 || a != 1 {
		t.Fatalf("after one good stream: Counts() = %d, %d, want 1, 1", r, a)
	}

	ctx, cancel := context.WithCancel(context.Background())
	st, err = client.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&kycv1.CheckRequest{}); err != nil {
		t.Fatal(err)
	}
	<-held
	cancel()
	if _, err := st.CloseAndRecv(); status.Code(err) != grpccodes.Canceled {
		t.Fatalf("aborted stream: %v, want Canceled", err)
	}
	if r, a := th.Counts(); r != 1 || a != 1 {
		t.Fatalf("after an aborted stream: Counts() = %d, %d, want still 1, 1", r, a)
	}
	if n := srv.Calls(testkit.MethodCheck); n != 2 {
		t.Fatalf("the stub saw %d streams, want 2", n)
	}
}

// TestRefusedStreamRunsOnFinish: a stream the throttle rejects never reaches grpc, which would
// have run the caller's grpc.OnFinish callbacks once the stream ended; the interceptor runs
// them once, with the rejection, as Unary does for a rejected call. A stream interceptor before
// the throttle that ends its bookkeeping on OnFinish (an in-flight count, a span) otherwise
// never ends it for such a stream.
func TestRefusedStreamRunsOnFinish(t *testing.T) {
	th, err := New("kyc.v1.OCRService", Config{}, WithRand(func() float64 { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		th.Record(codes.Verdict{Class: codes.Transient})
	}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		t.Fatal("the streamer was reached")
		return nil, nil
	}
	var f testkit.Finishes
	_, err = th.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/kyc.v1.OCRService/Watch", streamer, f.Option())
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("stream: %v, want ErrThrottled", err)
	}
	if errs := f.Errs(); len(errs) != 1 || errs[0] != err {
		t.Fatalf("rejected stream: OnFinish ran %d times with %v, want once with %v", len(errs), errs, err)
	}
}
