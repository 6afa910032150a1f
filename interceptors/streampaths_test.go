package interceptors_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// TestStreamRetryOpenPanicReachesCaller: a stream interceptor after the suite (or any step
// after retry) that panics when the retry loop opens attempt 2 must let the panic reach the
// caller of RecvMsg, not hang it.
func TestStreamRetryOpenPanicReachesCaller(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return status.Error(grpccodes.Unavailable, "down")
	}})
	rec := &testkit.Recorder{}
	s, err := interceptors.New(threeProfiles(), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var opens atomic.Int32
	panicky := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if opens.Add(1) == 2 {
			panic("boom")
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
	cc := srv.Dial(t, grpc.WithChainStreamInterceptor(s.Stream(), panicky))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := kycv1.NewLivenessServiceClient(cc).Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&kycv1.CheckRequest{})
	_ = st.CloseSend()
	got := make(chan any, 1)
	go func() {
		defer func() { got <- recover() }()
		_, _ = st.CloseAndRecv()
	}()
	select {
	case v := <-got:
		if v != "boom" {
			t.Fatalf("recovered %v, want the panic boom", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RecvMsg hung: the streamer's panic in the retry loop never reached the caller")
	}
	// The stream is over: it says so instead of hanging or retrying.
	if err := st.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Internal {
		t.Fatalf("RecvMsg after the panic = %v, want Internal", err)
	}
}

// gRPC documents a non-io.EOF error from SendMsg as an end of the stream (the caller need do
// nothing more). The suite then emits CallFinished, and the call's one attempt is reported
// too (AttemptFinished), with or without a retry step.
func TestStreamSendErrorReportsAttempt(t *testing.T) {
	for _, withRetry := range []bool{true, false} {
		t.Run("retry="+strconv.FormatBool(withRetry), func(t *testing.T) {
			srv := &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
				<-st.Context().Done()
				return st.Context().Err()
			}}
			cfg := threeProfiles()
			if !withRetry {
				p := cfg.Profiles["fast"]
				p.Retry = nil
				cfg.Profiles["fast"] = p
			}
			e := newEnv(t, cfg, srv)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, err := e.live.Check(ctx, grpc.MaxCallSendMsgSize(16))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(&kycv1.CheckRequest{Image: make([]byte, 64)}); status.Code(err) != grpccodes.ResourceExhausted {
				t.Fatalf("Send = %v, want ResourceExhausted", err)
			}
			// The stream is over for gRPC; the caller does nothing more with it.
			testkit.Eventually(t, "no CallFinished", func() bool { return len(e.rec.Events(observe.CallFinished)) > 0 })
			calls := len(e.rec.Events(observe.CallFinished))
			attempts := len(e.rec.Events(observe.AttemptFinished))
			if calls != 1 || attempts != 1 {
				t.Fatalf("%d CallFinished, %d AttemptFinished after a failed SendMsg; want 1 and 1", calls, attempts)
			}
		})
	}
}

// TestHedgeWithoutRetryReportsAttemptsOnce: a profile with a hedge and no retry section. Every
// request sent is one AttemptFinished, for the unary call and for the client stream.
func TestHedgeWithoutRetryReportsAttemptsOnce(t *testing.T) {
	isHedge := func(ctx context.Context) bool {
		md, _ := metadata.FromIncomingContext(ctx)
		return len(md.Get(hedge.PreviousAttemptsKey)) != 0
	}
	srv := &testkit.Server{
		CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			if !isHedge(ctx) {
				<-ctx.Done()
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return &kycv1.CompareResponse{Similarity: 0.9}, nil
		},
		CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
			if !isHedge(st.Context()) {
				<-st.Context().Done()
				return st.Context().Err()
			}
			return testkit.DrainCheck(st, 0.9)
		},
	}
	cfg := threeProfiles()
	for _, name := range []string{"ml", "fast"} {
		p := cfg.Profiles[name]
		p.Retry = nil
		p.Hedge = &hedge.Config{Delay: 20 * time.Millisecond}
		cfg.Profiles[name] = p
	}
	e := newEnv(t, cfg, srv)
	count := func(method string) []string {
		var out []string
		for _, ev := range e.rec.Events(observe.AttemptFinished) {
			if ev.Method == method {
				out = append(out, ev.Policy+"/"+strconv.Itoa(ev.Attempt)+"/"+ev.Code.String())
			}
		}
		slices.Sort(out)
		return out
	}
	if _, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.check(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	want := []string{"hedge/1/Canceled", "hedge/2/OK"}
	// The stream's losing attempt ends on grpc's goroutine.
	testkit.Eventually(t, "the stream's attempts not reported", func() bool { return len(count(testkit.MethodCheck)) >= 2 })
	u, s := count(testkit.MethodCompare), count(testkit.MethodCheck)
	if !slices.Equal(u, want) || !slices.Equal(s, want) {
		t.Fatalf("AttemptFinished: unary %v, stream %v; want %v each", u, s, want)
	}
}

// TestStreamAttemptTimeoutIsABreakerFailure: attempts that run out their
// per-attempt timeout are failures to the breaker for unary calls; a stream's attempts that
// run out theirs must count too.
func TestStreamAttemptTimeoutIsABreakerFailure(t *testing.T) {
	srv := &testkit.Server{
		CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
		CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
			<-st.Context().Done()
			return st.Context().Err()
		},
	}
	cfg := threeProfiles()
	for _, name := range []string{"ml", "fast"} {
		p := cfg.Profiles[name]
		p.Retry = quickRetry(3)
		p.Retry.PerAttemptTimeout = 30 * time.Millisecond
		cfg.Profiles[name] = p
	}
	e := newEnv(t, cfg, srv)
	_, uerr := e.face.Compare(context.Background(), &kycv1.CompareRequest{})
	_, serr := e.check(context.Background(), 1)
	// A stream attempt's end reaches the breaker when its context ends, on grpc's goroutine.
	testkit.Eventually(t, "the stream's three timed-out attempts not all recorded", func() bool {
		return e.reg.Snapshot()[svcLiveness].Failures+e.reg.Snapshot()[svcLiveness].Ignored >= 3
	})
	stats := e.reg.Snapshot()
	u, s := stats[svcFaceMatch], stats[svcLiveness]
	if u.Failures != s.Failures || s.Failures != 3 {
		t.Fatalf("breaker failures: unary %d (err %v), stream %d (err %v); want 3 each (3 timed-out attempts)\nunary %+v\nstream %+v",
			u.Failures, uerr, s.Failures, serr, u, s)
	}
}

// TestServerStreamFailingAfterAMessage: a server stream that fails after its
// first message. The call's attempt ends with the stream's status, with or without a retry
// step, as CallFinished does.
func TestServerStreamFailingAfterAMessage(t *testing.T) {
	for _, withRetry := range []bool{false, true} {
		t.Run("retry="+strconv.FormatBool(withRetry), func(t *testing.T) {
			lis := bufconn.Listen(1 << 20)
			gs := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
				if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
					return err
				}
				if err := st.SendMsg(&kycv1.CheckResponse{}); err != nil {
					return err
				}
				return status.Error(grpccodes.Unavailable, "crashed")
			}))
			go func() { _ = gs.Serve(lis) }()
			t.Cleanup(gs.Stop)
			p := config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour}}
			if withRetry {
				p.Retry = quickRetry(3)
				p.Retry.Idempotent = true
			}
			cfg := &config.Config{Budget: 5 * time.Second,
				Profiles: map[string]config.Profile{"p": p},
				Services: map[string]config.Service{"bulwark.test.Lister": {Profile: "p"}}}
			rec := &testkit.Recorder{}
			s, err := interceptors.New(cfg, interceptors.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			cc, err := grpc.NewClient("passthrough:///lister",
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithChainStreamInterceptor(s.Stream()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cc.Close() })
			st, err := cc.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, "/bulwark.test.Lister/List")
			if err != nil {
				t.Fatal(err)
			}
			_ = st.SendMsg(&kycv1.CheckRequest{})
			_ = st.CloseSend()
			for st.RecvMsg(new(kycv1.CheckResponse)) == nil {
			}
			calls, atts := rec.Events(observe.CallFinished), rec.Events(observe.AttemptFinished)
			if len(calls) != 1 || len(atts) != 1 || calls[0].Code != grpccodes.Unavailable || atts[0].Code != calls[0].Code {
				t.Fatalf("CallFinished %+v\nAttemptFinished %+v\nwant one each, both Unavailable", calls, atts)
			}
		})
	}
}

// TestStreamEndsReleaseTheBulkhead: every way a Check stream ends gives its bulkhead slot back.
func TestStreamEndsReleaseTheBulkhead(t *testing.T) {
	var mode atomic.Int32
	srv := &testkit.Server{CheckF: func(n int, st kycv1.LivenessService_CheckServer) error {
		switch mode.Load() {
		case 1: // fail before anything: retried
			if n%2 == 1 {
				return status.Error(grpccodes.Unavailable, "down")
			}
		case 2: // hold until canceled
			<-st.Context().Done()
			return st.Context().Err()
		case 3: // non-retryable error
			return status.Error(grpccodes.InvalidArgument, "bad")
		}
		return testkit.DrainCheck(st, 0.9)
	}}
	cfg := threeProfiles()
	p := cfg.Profiles["fast"]
	p.Bulkhead = &bulkhead.Config{MaxConcurrent: 2}
	cfg.Profiles["fast"] = p
	e := newEnv(t, cfg, srv)
	bh := e.suite.Bulkheads()[svcLiveness]
	idle := func(what string) {
		t.Helper()
		testkit.Eventually(t, what+": slots still held", func() bool { return bh.InFlight() == 0 })
	}
	mode.Store(0)
	if _, err := e.check(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	idle("success")
	mode.Store(1)
	if _, err := e.check(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	idle("retried")
	mode.Store(3)
	if _, err := e.check(context.Background(), 2); err == nil {
		t.Fatal("want error")
	}
	idle("error")
	mode.Store(2)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := e.live.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&kycv1.CheckRequest{})
	_ = st.CloseSend()
	cancel()
	idle("CloseSend then cancel")
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = e.check(ctx, 1)
	if status.Code(err) != grpccodes.DeadlineExceeded {
		t.Fatalf("err %v", err)
	}
	idle("deadline while reading")
	ctx, cancel = context.WithCancel(context.Background())
	st, err = e.live.Check(ctx, grpc.MaxCallSendMsgSize(16))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&kycv1.CheckRequest{Image: make([]byte, 64)}); err == nil {
		t.Fatal("want send error")
	}
	idle("send error")
	cancel()
}

func TestStreamConcurrentSendRecvRetryReleases(t *testing.T) {
	srv := &testkit.Server{CheckF: func(n int, st kycv1.LivenessService_CheckServer) error {
		if n%3 != 0 {
			_, _ = st.Recv()
			return status.Error(grpccodes.Unavailable, "down")
		}
		return testkit.DrainCheck(st, 0.9)
	}}
	cfg := threeProfiles()
	p := cfg.Profiles["fast"]
	p.Retry = quickRetry(5)
	p.Bulkhead = &bulkhead.Config{MaxConcurrent: 4}
	cfg.Profiles["fast"] = p
	e := newEnv(t, cfg, srv)
	for range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		st, err := e.live.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 20 {
				if err := st.Send(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
					return
				}
			}
			_ = st.CloseSend()
		}()
		_ = st.RecvMsg(new(kycv1.CheckResponse))
		<-done
		cancel()
	}
	bh := e.suite.Bulkheads()[svcLiveness]
	testkit.Eventually(t, "bulkhead slots still held", func() bool { return bh.InFlight() == 0 })
}
