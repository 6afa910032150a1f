package deadline_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestContext(t *testing.T) {
	tests := []struct {
		name       string
		cfg        deadline.Config
		callerIn   time.Duration // 0: no deadline
		want       time.Duration // remaining after the policy; 0: no deadline
		wantReason string
	}{
		{name: "nothing configured, no deadline", want: 0},
		{name: "nothing configured, deadline kept", callerIn: time.Hour, want: time.Hour},
		{name: "default set", cfg: deadline.Config{Default: 2 * time.Second}, want: 2 * time.Second, wantReason: observe.ReasonDefault},
		{name: "default ignored when a deadline is set", cfg: deadline.Config{Default: 2 * time.Second}, callerIn: 5 * time.Second, want: 5 * time.Second},
		{name: "cap brings a far deadline in", cfg: deadline.Config{Max: 3 * time.Second}, callerIn: time.Minute, want: 3 * time.Second, wantReason: observe.ReasonCap},
		{name: "cap keeps a near deadline", cfg: deadline.Config{Max: 3 * time.Second}, callerIn: time.Second, want: time.Second},
		{name: "cap applies to no deadline", cfg: deadline.Config{Max: 3 * time.Second}, want: 3 * time.Second, wantReason: observe.ReasonCap},
		{name: "default within cap", cfg: deadline.Config{Default: time.Second, Max: 3 * time.Second}, want: time.Second, wantReason: observe.ReasonDefault},
		{name: "never extended", cfg: deadline.Config{Default: 10 * time.Second, Max: 10 * time.Second}, callerIn: 2 * time.Second, want: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			rec := &testkit.Recorder{}
			p, err := deadline.New(tt.cfg, deadline.WithClock(clk), deadline.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.callerIn > 0 {
				var cancel context.CancelFunc
				ctx, cancel = clock.WithTimeout(ctx, clk, tt.callerIn)
				defer cancel()
			}
			// Deadline declares what Context sets, without a context.
			declared, set := p.Deadline(ctx, testkit.MethodCompare)
			if set != (tt.wantReason != "") || (set && declared.Sub(clk.Now()) != tt.want) {
				t.Fatalf("Deadline = %v, %v; want remaining %v, set %v", declared.Sub(clk.Now()), set, tt.want, tt.wantReason != "")
			}
			if n := len(rec.Events(observe.DeadlineApplied)); set && n != 1 {
				t.Fatalf("Deadline emitted %d events, want 1", n)
			}
			rec.Reset()
			got, cancel := p.Context(ctx, testkit.MethodCompare)
			defer cancel()
			dl, ok := got.Deadline()
			if tt.want == 0 {
				if ok {
					t.Fatalf("deadline set: %v", dl)
				}
			} else if !ok || dl.Sub(clk.Now()) != tt.want {
				t.Fatalf("remaining = %v (set %v), want %v", dl.Sub(clk.Now()), ok, tt.want)
			}
			evs := rec.Events(observe.DeadlineApplied)
			if tt.wantReason == "" {
				if len(evs) != 0 {
					t.Fatalf("events = %v, want none", evs)
				}
				if got != ctx {
					t.Fatal("context replaced though nothing changed")
				}
				return
			}
			if len(evs) != 1 || evs[0].Reason != tt.wantReason || evs[0].Delay != tt.want ||
				evs[0].Service != "kyc.v1.FaceMatchService" || evs[0].Policy != observe.PolicyDeadline {
				t.Fatalf("events = %+v, want one %s with delay %v", evs, tt.wantReason, tt.want)
			}
			clk.Advance(tt.want)
			<-got.Done()
			if got.Err() != context.DeadlineExceeded {
				t.Fatalf("err = %v", got.Err())
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	if _, err := deadline.New(deadline.Config{Default: 2 * time.Second, Max: time.Second}); err == nil {
		t.Fatal("want an error for default above max")
	}
}

func TestInterceptors(t *testing.T) {
	var gotUnary, gotStream time.Duration
	srv := testkit.Start(t, &testkit.Server{
		CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			dl, _ := ctx.Deadline()
			gotUnary = time.Until(dl)
			return &kycv1.CompareResponse{}, nil
		},
		CheckF: func(_ int, s kycv1.LivenessService_CheckServer) error {
			dl, _ := s.Context().Deadline()
			gotStream = time.Until(dl)
			return testkit.DrainCheck(s, 1)
		},
	})
	p, err := deadline.New(deadline.Config{Default: 30 * time.Second, Max: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cc := srv.Dial(t, grpc.WithUnaryInterceptor(p.Unary()), grpc.WithStreamInterceptor(p.Stream()))
	if _, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	st, err := kycv1.NewLivenessServiceClient(cc).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&kycv1.CheckRequest{Index: 0}); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]time.Duration{"unary": gotUnary, "stream": gotStream} {
		if got <= 25*time.Second || got > 30*time.Second {
			t.Errorf("%s: server saw %v left, want about 30s", name, got)
		}
	}
}

// TestDeadlineAllocatesNothing: declaring the deadline (no context) costs no allocation, with
// an observer or without, and with a call sink when the policy has no observer of its own
// (regression: the call sink was joined to the missing observer, one allocation per call).
func TestDeadlineAllocatesNothing(t *testing.T) {
	callSink := observe.SinkFunc(func(observe.Event) {})
	for _, tt := range []struct {
		sink     observe.Sink
		callSink bool
	}{{nil, false}, {callSink, false}, {nil, true}} {
		p, err := deadline.New(deadline.Config{Default: time.Second, Max: 3 * time.Second}, deadline.WithObserver(tt.sink))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if tt.callSink {
			ctx = observe.WithCallSink(ctx, callSink)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = p.Deadline(ctx, testkit.MethodCompare) }); n != 0 {
			t.Errorf("Deadline allocates %v per call (observer %v, call sink %v)", n, tt.sink != nil, tt.callSink)
		}
		cancel()
	}
}

// deadlineStream is a grpc.ClientStream over the context it was opened with, as gRPC's, with
// end standing for gRPC finishing the stream.
type deadlineStream struct {
	grpc.ClientStream
	ctx  context.Context
	end  context.CancelFunc
	send error
}

func (s *deadlineStream) Context() context.Context { return s.ctx }
func (s *deadlineStream) SendMsg(any) error        { return s.send }

// Regression: the deadline's context of a stream was released only by RecvMsg; a stream that
// ended otherwise (a SendMsg failure, gRPC finishing a committed stream nobody reads) held the
// context and its timer until the deadline or the caller's context ended.
func TestStreamEndedUnreadReleasesTheDeadline(t *testing.T) {
	tests := []struct {
		name string
		end  func(cs grpc.ClientStream, s *deadlineStream)
	}{
		{name: "SendMsg fails", end: func(cs grpc.ClientStream, _ *deadlineStream) { _ = cs.SendMsg(nil) }},
		{name: "gRPC finishes the stream", end: func(cs grpc.ClientStream, s *deadlineStream) {
			// Reading the stream's context commits it in gRPC, as its response starting
			// does: the stream's context is watched from then on.
			_ = cs.Context()
			s.end()
		}},
		{name: "the caller cancels", end: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{}) // The deadline never passes by itself.
			p, err := deadline.New(deadline.Config{Default: time.Hour}, deadline.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			caller, cancelCaller := context.WithCancel(context.Background())
			defer cancelCaller()
			var dctx context.Context
			var s *deadlineStream
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				dctx = ctx
				sctx, end := context.WithCancel(ctx)
				s = &deadlineStream{ctx: sctx, end: end, send: errors.New("marshal: too large")}
				return s, nil
			}
			cs, err := p.Stream()(caller, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			defer s.end()
			if _, ok := dctx.Deadline(); !ok {
				t.Fatal("the stream got no deadline")
			}
			if tt.end != nil {
				tt.end(cs, s)
			} else {
				cancelCaller()
			}
			select {
			case <-dctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the deadline's context is still live after the stream ended")
			}
		})
	}
}

// TestStreamOpenPanicReleasesTheDeadline: a streamer that panics as the stream opens lets the
// panic reach the caller, and the deadline's context and its timer are released with it,
// instead of staying until the deadline passes.
func TestStreamOpenPanicReleasesTheDeadline(t *testing.T) {
	clk := clocktest.New(time.Time{}) // The deadline never passes by itself.
	p, err := deadline.New(deadline.Config{Default: time.Hour}, deadline.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var dctx context.Context
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		dctx = ctx
		panic("boom")
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the streamer's panic", v)
			}
		}()
		_, _ = p.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	}()
	if _, ok := dctx.Deadline(); !ok {
		t.Fatal("the stream got no deadline")
	}
	if dctx.Err() == nil || clk.Timers() != 0 {
		t.Fatalf("after the panic: context %v, %d timers; want it released, no timer", dctx.Err(), clk.Timers())
	}
}
