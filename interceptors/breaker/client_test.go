package breaker

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func compare(ctx context.Context, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
	_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(ctx, &kycv1.CompareRequest{}, opts...)
	return err
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

func TestUnaryTripsAndRecovers(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CompareF: testkit.FailFirst(3, testkit.Status(grpccodes.Unavailable, ""))})
	b, clk, _ := newTest(t, Config{ConsecutiveFailures: 3, RecoveryTimeout: 10 * time.Second})
	cc := srv.Dial(t, grpc.WithUnaryInterceptor(b.Unary()))
	ctx := context.Background()

	for i := range 3 {
		if err := compare(ctx, cc); status.Code(err) != grpccodes.Unavailable || errors.Is(err, ErrOpen) {
			t.Fatalf("call %d: err = %v, want the server's Unavailable", i, err)
		}
	}
	clk.Advance(4 * time.Second)
	err := compare(ctx, cc)
	if status.Code(err) != grpccodes.Unavailable || !errors.Is(err, ErrOpen) {
		t.Fatalf("err = %v, want a breaker rejection", err)
	}
	if info := errorInfo(t, err); info.GetReason() != ReasonCircuitOpen || info.GetMetadata()["service"] != svc || info.GetMetadata()["retry_after_ms"] != "6000" {
		t.Fatalf("ErrorInfo = %v", info)
	}
	if n := srv.Calls(testkit.MethodCompare); n != 3 {
		t.Fatalf("server saw %d calls, want 3 (the rejected one never left)", n)
	}
	clk.Advance(6 * time.Second)
	if err := compare(ctx, cc); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s := b.State(); s != Closed {
		t.Fatalf("state = %v after a good probe, want closed", s)
	}
}

func TestUnaryOutcomes(t *testing.T) {
	unavailableIsBusiness, err := codes.Default().With(codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		serverErr  error
		cancel     bool // the caller cancels while the server holds the call
		expired    bool // the caller's deadline has passed before the call
		opts       []grpc.CallOption
		wantCode   grpccodes.Code
		wantCounts [3]uint64 // successes, failures, ignored
	}{
		{name: "ok", wantCode: grpccodes.OK, wantCounts: [3]uint64{1, 0, 0}},
		{name: "business error", serverErr: testkit.Status(grpccodes.InvalidArgument, "DOCUMENT_UNREADABLE"), wantCode: grpccodes.InvalidArgument, wantCounts: [3]uint64{1, 0, 0}},
		{name: "unavailable", serverErr: testkit.Status(grpccodes.Unavailable, ""), wantCode: grpccodes.Unavailable, wantCounts: [3]uint64{0, 1, 0}},
		{name: "internal", serverErr: testkit.Status(grpccodes.Internal, ""), wantCode: grpccodes.Internal, wantCounts: [3]uint64{0, 1, 0}},
		{name: "throttled", serverErr: testkit.Throttled(time.Second), wantCode: grpccodes.ResourceExhausted, wantCounts: [3]uint64{0, 1, 0}},
		{name: "server says canceled", serverErr: testkit.Status(grpccodes.Canceled, ""), wantCode: grpccodes.Canceled, wantCounts: [3]uint64{0, 0, 1}},
		{name: "caller cancels", cancel: true, wantCode: grpccodes.Canceled, wantCounts: [3]uint64{0, 0, 1}},
		// Not a call the breaker counts: grpc fails it before sending it (see
		// TestCallerDeadlineBeforeAndDuringTheCall).
		{name: "caller deadline passed", expired: true, wantCode: grpccodes.DeadlineExceeded, wantCounts: [3]uint64{0, 0, 0}},
		{name: "per-call classifier", serverErr: testkit.Status(grpccodes.Unavailable, ""), opts: []grpc.CallOption{WithCallClassifier(unavailableIsBusiness)}, wantCode: grpccodes.Unavailable, wantCounts: [3]uint64{1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{})
			srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
				if tt.cancel {
					close(started)
					<-ctx.Done()
					return nil, ctx.Err()
				}
				if tt.serverErr != nil {
					return nil, tt.serverErr
				}
				return &kycv1.CompareResponse{}, nil
			}})
			b, _, _ := newTest(t, Config{})
			cc := srv.Dial(t, grpc.WithUnaryInterceptor(b.Unary()))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.expired {
				ctx, cancel = context.WithDeadline(ctx, time.Now().Add(-time.Second))
				defer cancel()
			}
			if tt.cancel {
				go func() { <-started; cancel() }()
			}
			err := compare(ctx, cc, tt.opts...)
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.wantCode)
			}
			st := b.Stats()
			wantCalls := uint64(1)
			if tt.expired {
				wantCalls = 0
			}
			if got := [3]uint64{st.Successes, st.Failures, st.Ignored}; got != tt.wantCounts || st.Calls != wantCalls {
				t.Fatalf("successes, failures, ignored = %v of %d calls, want %v of %d", got, st.Calls, tt.wantCounts, wantCalls)
			}
		})
	}
}

func TestUnaryPanicFreesProbe(t *testing.T) {
	b, clk, _ := newTest(t, Config{})
	halfOpen(t, b, clk)
	panicking := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") }
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not go on")
			}
		}()
		_ = b.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, panicking)
	}()
	if st := b.Stats(); st.State != HalfOpen || st.Ignored != 1 {
		t.Fatalf("stats = %+v, want half_open with 1 ignored", st)
	}
	if _, err := b.Allow(); err != nil {
		t.Fatalf("probe slot not returned: %v", err)
	}
}

func TestClientInterceptorSharesBreakers(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CompareF: testkit.FailFirst(100, testkit.Status(grpccodes.Unavailable, ""))})
	clk := clocktest.New(time.Time{})
	reg := new(Registry)
	rec := new(testkit.Recorder)
	cfg := Config{ConsecutiveFailures: 2}
	dial := func(cfg Config) *grpc.ClientConn {
		return srv.Dial(t, grpc.WithUnaryInterceptor(mustUnaryIC(t, cfg, WithRegistry(reg), WithClock(clk), WithObserver(rec))))
	}
	cc1, cc2 := dial(cfg), dial(cfg)
	ctx := context.Background()
	for range 2 {
		_ = compare(ctx, cc1)
	}
	if err := compare(ctx, cc2); !errors.Is(err, ErrOpen) {
		t.Fatalf("second connection: err = %v, want the shared breaker's rejection", err)
	}
	if _, err := kycv1.NewOCRServiceClient(cc2).Extract(ctx, &kycv1.ExtractRequest{}); err != nil {
		t.Fatalf("another service is not affected: %v", err)
	}
	b, ok := reg.Lookup(svc)
	if !ok || b.State() != Open {
		t.Fatalf("registry breaker for %s: %v", svc, b)
	}
	if n := srv.Calls(testkit.MethodCompare); n != 2 {
		t.Fatalf("server saw %d calls, want 2", n)
	}
	ev := rec.Events(observe.BreakerStateChanged)
	if len(ev) != 1 || ev[0].Service != svc || ev[0].Method != "" || ev[0].To != "open" {
		t.Fatalf("events = %+v", ev)
	}

	// A connection with other breaker settings replaces the breaker.
	cc3 := dial(Config{ConsecutiveFailures: 5})
	if err := compare(ctx, cc3); errors.Is(err, ErrOpen) {
		t.Fatalf("changed config still used the open breaker")
	}
	if b2, _ := reg.Lookup(svc); b2 == b || b2.Config().ConsecutiveFailures != 5 {
		t.Fatalf("breaker not replaced")
	}
}

func TestClientInterceptorScopeMethod(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CompareF: testkit.FailFirst(100, testkit.Status(grpccodes.Unavailable, ""))})
	reg := new(Registry)
	rec := new(testkit.Recorder)
	cc := srv.Dial(t, grpc.WithUnaryInterceptor(mustUnaryIC(t, Config{Scope: ScopeMethod, ConsecutiveFailures: 1}, WithRegistry(reg), WithObserver(rec))))
	_ = compare(context.Background(), cc)
	b, ok := reg.Lookup(testkit.MethodCompare)
	if !ok || b.State() != Open {
		t.Fatalf("no open breaker named %s", testkit.MethodCompare)
	}
	if _, ok := reg.Lookup(svc); ok {
		t.Fatalf("a service-scoped breaker was made")
	}
	ev := rec.Events(observe.BreakerStateChanged)
	if len(ev) != 1 || ev[0].Service != svc || ev[0].Method != testkit.MethodCompare {
		t.Fatalf("events = %+v, want service and method set", ev)
	}
	err := compare(context.Background(), cc)
	if info := errorInfo(t, err); info.GetMetadata()["service"] != svc {
		t.Fatalf("rejection names service %q, want %q", info.GetMetadata()["service"], svc)
	}
	if ev := rec.Events(observe.Rejected); len(ev) != 1 || ev[0].Method != testkit.MethodCompare {
		t.Fatalf("rejection events = %+v", ev)
	}
}

// mustUnaryIC is UnaryClientInterceptor for a valid cfg.
func mustUnaryIC(t *testing.T, cfg Config, opts ...Option) grpc.UnaryClientInterceptor {
	t.Helper()
	ic, err := UnaryClientInterceptor(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

func TestClientInterceptorInvalidConfigIsAnError(t *testing.T) {
	bad := Config{WindowSize: -1}
	want := bad.Validate()
	if want == nil {
		t.Fatal("the config is valid")
	}
	if ic, err := UnaryClientInterceptor(bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Fatalf("UnaryClientInterceptor = %v, %v; want nil and %v", ic != nil, err, want)
	}
	if ic, err := StreamClientInterceptor(bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Fatalf("StreamClientInterceptor = %v, %v; want nil and %v", ic != nil, err, want)
	}
	for name, f := range map[string]func(){
		"MustUnaryClientInterceptor":  func() { MustUnaryClientInterceptor(bad) },
		"MustStreamClientInterceptor": func() { MustStreamClientInterceptor(bad) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestStreamEndings(t *testing.T) {
	block := func(_ int, s kycv1.LivenessService_CheckServer) error {
		<-s.Context().Done()
		return s.Context().Err()
	}
	unavailable := func(int, kycv1.LivenessService_CheckServer) error { return testkit.Status(grpccodes.Unavailable, "") }
	tests := []struct {
		name       string
		checkF     func(int, kycv1.LivenessService_CheckServer) error
		end        string // "recv": CloseAndRecv; "cancel-recv": cancel while receiving; "abandon": cancel without reading; "header-recv": Header, then CloseAndRecv; "header-close": Header, then close the ClientConn without reading; "header-cancel": Header, then cancel without reading; "close": close the ClientConn without reading (the stream not committed)
		wantCode   grpccodes.Code
		wantCounts [3]uint64 // successes, failures, ignored
		wantState  State
	}{
		{name: "EOF: the response arrives", end: "recv", wantCode: grpccodes.OK, wantCounts: [3]uint64{1, 0, 0}, wantState: Closed},
		{name: "server error", checkF: func(int, kycv1.LivenessService_CheckServer) error { return testkit.Status(grpccodes.Unavailable, "") }, end: "recv", wantCode: grpccodes.Unavailable, wantCounts: [3]uint64{0, 1, 0}, wantState: Open},
		{name: "server business error", checkF: func(int, kycv1.LivenessService_CheckServer) error {
			return testkit.Status(grpccodes.FailedPrecondition, "NO_FACE")
		}, end: "recv", wantCode: grpccodes.FailedPrecondition, wantCounts: [3]uint64{1, 0, 0}, wantState: Closed},
		{name: "caller cancels while receiving", checkF: block, end: "cancel-recv", wantCode: grpccodes.Canceled, wantCounts: [3]uint64{0, 0, 1}, wantState: HalfOpen},
		{name: "caller abandons the stream", checkF: block, end: "abandon", wantCounts: [3]uint64{0, 0, 1}, wantState: HalfOpen},
		// A trailers-only failure: gRPC's Header returns nil, nil and RecvMsg the status.
		{name: "trailers-only: Header then RecvMsg", checkF: unavailable, end: "header-recv", wantCode: grpccodes.Unavailable, wantCounts: [3]uint64{0, 1, 0}, wantState: Open},
		{name: "trailers-only: Header then the ClientConn closed", checkF: unavailable, end: "header-close", wantCounts: [3]uint64{0, 0, 1}, wantState: HalfOpen},
		// The status, in gRPC alone, is never seen: neither, and the probe's permit is returned.
		{name: "trailers-only: Header then the caller cancels", checkF: unavailable, end: "header-cancel", wantCounts: [3]uint64{0, 0, 1}, wantState: HalfOpen},
		// Nothing read (no Header, RecvMsg or Context): the stream is not committed.
		{name: "not committed: the ClientConn closed", checkF: block, end: "close", wantCounts: [3]uint64{0, 0, 1}, wantState: HalfOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.Start(t, &testkit.Server{CheckF: tt.checkF})
			b, clk, _ := newTest(t, Config{})
			halfOpen(t, b, clk) // One probe slot: the stream holds it.
			before := b.Stats()
			cc := srv.Dial(t, grpc.WithStreamInterceptor(b.Stream()))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := kycv1.NewLivenessServiceClient(cc).Check(ctx)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
				t.Fatalf("a second probe was admitted while the stream is open (err %v)", err)
			}
			for i := range 3 {
				if err := stream.Send(&kycv1.CheckRequest{Index: uint32(i)}); err != nil && !errors.Is(err, io.EOF) {
					t.Fatalf("Send: %v", err)
				}
			}
			switch tt.end {
			case "recv":
				_, err = stream.CloseAndRecv()
			case "cancel-recv":
				go cancel()
				_, err = stream.CloseAndRecv()
			case "abandon":
				cancel()
				// The breaker learns of it through the context: wait for the record, failing
				// rather than hanging when it never comes.
				for deadline := time.Now().Add(10 * time.Second); b.Stats().Calls == before.Calls; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the probe's permit is still held 10s after the caller abandoned the stream")
					}
				}
			case "header-recv", "header-close", "header-cancel", "close":
				if tt.end != "close" { // "close" reads no Header: nothing commits the stream.
					if md, herr := stream.Header(); md != nil || herr != nil {
						t.Fatalf("Header = %v, %v, want nil, nil (trailers-only)", md, herr)
					}
				}
				if tt.end == "header-recv" {
					_, err = stream.CloseAndRecv()
					break
				}
				if tt.end == "header-cancel" {
					cancel()
					for deadline := time.Now().Add(10 * time.Second); b.Stats().Calls == before.Calls; time.Sleep(time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatal("the probe's permit is still held after the caller cancelled")
						}
					}
					break
				}
				if cerr := cc.Close(); cerr != nil {
					t.Fatal(cerr)
				}
				// The breaker learns of it through the ClientConn: wait for the record.
				for deadline := time.Now().Add(10 * time.Second); b.Stats().Calls == before.Calls; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the probe's permit is still held after the ClientConn closed")
					}
				}
			}
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.wantCode)
			}
			st := b.Stats()
			if got := since(st, before); got != tt.wantCounts || st.Calls-before.Calls != 1 || st.State != tt.wantState {
				t.Fatalf("stats = %+v, want counts %v of 1 call since half-open, state %v", st, tt.wantCounts, tt.wantState)
			}
			if tt.wantState == HalfOpen {
				if _, err := b.Allow(); err != nil {
					t.Fatalf("probe slot not returned: %v", err)
				}
			}
		})
	}
}

func TestStreamRejectedAtOpen(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	b, _, _ := newTest(t, Config{})
	b.ForceOpen()
	cc := srv.Dial(t, grpc.WithStreamInterceptor(b.Stream()))
	_, err := kycv1.NewLivenessServiceClient(cc).Check(context.Background())
	if !errors.Is(err, ErrOpen) || status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("err = %v, want a breaker rejection", err)
	}
	if n := srv.Calls(testkit.MethodCheck); n != 0 {
		t.Fatalf("server saw %d streams", n)
	}
}

func TestStreamClientInterceptor(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return testkit.Status(grpccodes.Unavailable, "")
	}})
	reg := new(Registry)
	sic, err := StreamClientInterceptor(Config{ConsecutiveFailures: 1}, WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	cc := srv.Dial(t, grpc.WithStreamInterceptor(sic))
	client := kycv1.NewLivenessServiceClient(cc)
	stream, err := client.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("err = %v", err)
	}
	if _, err := client.Check(context.Background()); !errors.Is(err, ErrOpen) {
		t.Fatalf("second stream: err = %v, want a rejection", err)
	}
	if b, ok := reg.Lookup("kyc.v1.LivenessService"); !ok || b.Stats().Failures != 1 {
		t.Fatalf("registry breaker missing or wrong")
	}
}

// fakeStream is a grpc.ClientStream whose RecvMsg answers from a script. Its context is the
// one it was opened with (gRPC's is a child of that one).
type fakeStream struct {
	ctx     context.Context
	recv    []error
	sendErr error
}

func (f *fakeStream) Header() (metadata.MD, error) { return nil, nil }
func (f *fakeStream) Trailer() metadata.MD         { return nil }
func (f *fakeStream) CloseSend() error             { return nil }
func (f *fakeStream) Context() context.Context {
	if f.ctx == nil {
		return context.Background()
	}
	return f.ctx
}
func (f *fakeStream) SendMsg(any) error { return f.sendErr }
func (f *fakeStream) RecvMsg(any) error {
	err := f.recv[0]
	f.recv = f.recv[1:]
	return err
}

func TestStreamUnit(t *testing.T) {
	tests := []struct {
		name          string
		serverStreams bool
		openErr       error
		panics        bool
		recv          []error
		sendErr       error
		wantCounts    [3]uint64 // successes, failures, ignored
		wantState     State
	}{
		{name: "open error is classified", openErr: testkit.Status(grpccodes.Unavailable, ""), wantCounts: [3]uint64{0, 1, 0}, wantState: Open},
		{name: "open panic frees the slot", panics: true, wantCounts: [3]uint64{0, 0, 1}, wantState: HalfOpen},
		{name: "server stream: messages then EOF is one success", serverStreams: true, recv: []error{nil, nil, io.EOF, io.EOF}, wantCounts: [3]uint64{1, 0, 0}, wantState: Closed},
		{name: "server stream: error after messages", serverStreams: true, recv: []error{nil, testkit.Status(grpccodes.Internal, "")}, wantCounts: [3]uint64{0, 1, 0}, wantState: Open},
		{name: "send error is classified once", sendErr: testkit.Status(grpccodes.Unavailable, ""), recv: []error{testkit.Status(grpccodes.Unavailable, "")}, wantCounts: [3]uint64{0, 1, 0}, wantState: Open},
		{name: "send io.EOF waits for the status", sendErr: io.EOF, recv: []error{testkit.Status(grpccodes.InvalidArgument, "")}, wantCounts: [3]uint64{1, 0, 0}, wantState: Closed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, _ := newTest(t, Config{})
			halfOpen(t, b, clk)
			before := b.Stats()
			fs := &fakeStream{recv: tt.recv, sendErr: tt.sendErr}
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				fs.ctx = ctx
				if tt.panics {
					panic("boom")
				}
				if tt.openErr != nil {
					return nil, tt.openErr
				}
				return fs, nil
			}
			func() {
				defer func() {
					if r := recover(); (r != nil) != tt.panics {
						t.Fatalf("panic = %v, want %v", r, tt.panics)
					}
				}()
				cs, err := b.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: tt.serverStreams, ClientStreams: true}, nil, testkit.MethodCheck, streamer)
				if err != nil {
					return
				}
				_ = cs.SendMsg(nil)
				for range tt.recv {
					_ = cs.RecvMsg(nil)
				}
			}()
			st := b.Stats()
			if got := since(st, before); got != tt.wantCounts || st.Calls-before.Calls != 1 || st.State != tt.wantState {
				t.Fatalf("stats = %+v, want counts %v of 1 call since half-open, state %v", st, tt.wantCounts, tt.wantState)
			}
		})
	}
}

// since returns the successes, failures and ignored outcomes recorded between before and st.
func since(st, before Stats) [3]uint64 {
	return [3]uint64{st.Successes - before.Successes, st.Failures - before.Failures, st.Ignored - before.Ignored}
}

// Regression: a stream whose context is done by the time it is watched (cancelled while it
// opened) has its abandonment callback run at once on another goroutine, before the
// interceptor has stored the callback's stop function; the callback must not call it (a data
// race and a nil call before the fix).
func TestStreamOpenedOnDoneContext(t *testing.T) {
	for range 50 {
		b, _, _ := newTest(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			cancel()
			return &fakeStream{ctx: ctx, recv: []error{io.EOF}}, nil
		}
		cs, err := b.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
		if err != nil {
			t.Fatal(err)
		}
		_ = cs                                       // the callback records the abandoned stream
		deadline := time.Now().Add(10 * time.Second) // generous: a busy machine runs the callback late
		for b.Stats().Calls == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if st := b.Stats(); st.Calls != 1 || st.Ignored != 1 {
			t.Fatalf("stats = %+v, want one call recorded as ignored (canceled)", st)
		}
	}
}

// Regression: a half-open probe held by a stream that gRPC ended (its context done: the
// connection closed, a Header error) while the caller neither read its end nor cancelled was
// held until the caller's context ended. It now counts as neither, and the slot comes back.
// The caller asked for the stream's context, which commits it in gRPC as its response
// starting does: the stream's context is watched only from then on (see streamend).
func TestStreamEndedByGRPCUnreadReturnsTheProbe(t *testing.T) {
	b, clk, _ := newTest(t, Config{})
	halfOpen(t, b, clk)
	before := b.Stats()
	sctx, finish := context.WithCancel(context.Background())
	defer finish()
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return &fakeStream{ctx: sctx}, nil
	}
	cs, err := b.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("a second probe was admitted while the stream is open (err %v)", err)
	}
	_ = cs.Context() // gRPC commits the stream.
	finish()         // gRPC ends the stream.
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().Calls == before.Calls && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := b.Stats()
	if got := since(st, before); got != [3]uint64{0, 0, 1} || st.State != HalfOpen {
		t.Fatalf("stats = %+v, want one ignored call, still half-open", st)
	}
	if _, err := b.Allow(); err != nil {
		t.Fatalf("probe slot not returned: %v", err)
	}
}

// TestStreamHeaderBeforeRecv: the caller reads the header of streams the server fails at once
// (gRPC ends such a stream in Header), then receives the status. Every stream's failure is
// recorded: the end of the stream's context in Header is not taken for a stream gRPC ended
// unread (which counts as nothing), whichever of the context's callback and RecvMsg comes
// first.
func TestStreamHeaderBeforeRecv(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return testkit.Status(grpccodes.Unavailable, "")
	}})
	reg := new(Registry)
	sic, err := StreamClientInterceptor(Config{ConsecutiveFailures: 1 << 20}, WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	client := kycv1.NewLivenessServiceClient(srv.Dial(t, grpc.WithStreamInterceptor(sic)))
	const streams = 200
	for range streams {
		stream, err := client.Check(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if md, err := stream.Header(); md != nil || err != nil {
			t.Fatalf("Header = %v, %v; want nil, nil (no header)", md, err)
		}
		if _, err := stream.CloseAndRecv(); status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("CloseAndRecv = %v", err)
		}
	}
	b, _ := reg.Lookup("kyc.v1.LivenessService")
	if s := b.Stats(); s.Failures != streams || s.Ignored != 0 {
		t.Fatalf("failures %d, ignored %d; want %d failures", s.Failures, s.Ignored, streams)
	}
}

// retryServiceConfig has gRPC retry LivenessService's streams that fail with Unavailable.
const retryServiceConfig = `{"methodConfig": [{
	"name": [{"service": "kyc.v1.LivenessService"}],
	"retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
		"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}
}]}`

// Regression: watching a stream for its end read its Context as it opened, which commits a
// gRPC stream to its first attempt and so turned off gRPC's own retries (the service
// config's retry policy, and transparent retries of streams refused unprocessed) for every
// stream under the breaker. A stream whose first attempt fails with a retryable status is
// retried by gRPC, succeeds, and counts as one success.
func TestStreamKeepsGRPCRetries(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CheckF: func(call int, stream kycv1.LivenessService_CheckServer) error {
		if call == 1 {
			return testkit.Status(grpccodes.Unavailable, "")
		}
		return testkit.DrainCheck(stream, 0.9)
	}})
	reg := new(Registry)
	sic, err := StreamClientInterceptor(Config{}, WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	client := kycv1.NewLivenessServiceClient(srv.Dial(t, grpc.WithStreamInterceptor(sic), grpc.WithDefaultServiceConfig(retryServiceConfig)))
	stream, err := client.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&kycv1.CheckRequest{Index: 1}); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatalf("CloseAndRecv = %v, want gRPC's retry to succeed", err)
	}
	if n := srv.Calls(testkit.MethodCheck); n != 2 {
		t.Fatalf("the server saw %d attempts, want 2", n)
	}
	b, _ := reg.Lookup("kyc.v1.LivenessService")
	if s := b.Stats(); s.Calls != 1 || s.Successes != 1 {
		t.Fatalf("stats = %+v, want one success", s)
	}
}

// A call whose caller's deadline had passed before it began says nothing about the service:
// grpc fails it before sending it. The breaker neither counts it nor lets it take a half-open
// probe's slot, for unary calls and streams (before the fix each was a failure, and five of
// them opened the breaker of a healthy service). One whose deadline passes while it runs is
// a failure, as before.
func TestCallerDeadlineBeforeAndDuringTheCall(t *testing.T) {
	deadlineExceeded := status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
	ended, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	unary := func(b *Breaker, ctx context.Context, during func()) error {
		return b.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			during()
			return deadlineExceeded
		})
	}
	stream := func(b *Breaker, ctx context.Context, during func()) error {
		_, err := b.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			during()
			return nil, deadlineExceeded
		})
		return err
	}
	for name, call := range map[string]func(*Breaker, context.Context, func()) error{"unary": unary, "stream": stream} {
		t.Run(name, func(t *testing.T) {
			b, clk, _ := newTest(t, Config{})
			for range 2 * b.Config().ConsecutiveFailures {
				if err := call(b, ended, func() {}); status.Code(err) != grpccodes.DeadlineExceeded {
					t.Fatalf("call = %v, want DeadlineExceeded", err)
				}
			}
			if st := b.Stats(); st.State != Closed || st.Calls != 0 {
				t.Fatalf("after calls that began past their deadline: %+v, want closed with no call counted", st)
			}
			halfOpen(t, b, clk)
			before := b.Stats()
			for range b.Config().HalfOpenMaxCalls + 1 {
				_ = call(b, ended, func() {})
			}
			if p, err := b.Allow(); err != nil {
				t.Fatalf("a probe after calls that began past their deadline: %v (they took its slot)", err)
			} else {
				p.Done(nil)
			}
			if st := b.Stats(); st.Calls != before.Calls+1 {
				t.Errorf("calls = %d, want %d (the probe alone)", st.Calls, before.Calls+1)
			}

			b, _, _ = newTest(t, Config{})
			expiring := testkit.NewExpiring(t, context.Background())
			_ = call(b, expiring, expiring.Expire)
			if st := b.Stats(); st.Calls != 1 || st.Failures != 1 {
				t.Errorf("a deadline that passes during the call: %+v, want one failure", st)
			}
		})
	}
}

// TestRefusedStreamRunsOnFinish: a stream the breaker refuses never reaches grpc, which would
// have run the caller's grpc.OnFinish callbacks once the stream ended; the interceptor runs
// them once, with the refusal, as a refused unary call does (section.InvokeGate). A stream
// interceptor before the breaker that ends its bookkeeping on OnFinish otherwise never ends it.
func TestRefusedStreamRunsOnFinish(t *testing.T) {
	b, err := New("kyc.v1.OCRService", Config{ConsecutiveFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.ForceOpen()
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		t.Fatal("the streamer was reached")
		return nil, nil
	}
	var f testkit.Finishes
	_, err = b.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/kyc.v1.OCRService/Watch", streamer, f.Option())
	if err == nil {
		t.Fatal("a forced-open breaker let a stream through")
	}
	if errs := f.Errs(); len(errs) != 1 || errs[0] != err {
		t.Fatalf("refused stream: OnFinish ran %d times with %v, want once with %v", len(errs), errs, err)
	}
}
