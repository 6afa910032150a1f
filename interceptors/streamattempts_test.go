package interceptors_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestStreamReportsEachAttemptOnce: a client stream through a suite, with the profile's retry
// step and without one, reports each request it sent with one AttemptFinished, numbered 1, 2,
// ... (observe.AttemptFinished: each attempt sent is reported once), its last with the code
// the stream ended with; on every way a stream ends (internal/streamend), those the caller
// never sees the end of included, as a stream made with retry.Disable does
// (TestRetryDisabledStreamReportsItsAttempt).
func TestStreamReportsEachAttemptOnce(t *testing.T) {
	cases := []struct {
		name string
		// server handles the stream; cancel ends the caller's context.
		server func(st kycv1.LivenessService_CheckServer, cancel context.CancelFunc) error
		// run uses the stream opened with ctx the way the case ends it.
		run      func(t *testing.T, st kycv1.LivenessService_CheckClient, cancel context.CancelFunc)
		sendOpts []grpc.CallOption
		want     grpccodes.Code
	}{
		{
			name: "EOF",
			server: func(st kycv1.LivenessService_CheckServer, _ context.CancelFunc) error {
				return testkit.DrainCheck(st, 0.9)
			},
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, _ context.CancelFunc) {
				_ = st.Send(&kycv1.CheckRequest{})
				if _, err := st.CloseAndRecv(); err != nil {
					t.Fatalf("CloseAndRecv = %v, want the reply", err)
				}
			},
			want: grpccodes.OK,
		},
		{
			// Retried where the profile retries: every attempt is reported, the last with
			// the stream's status.
			name: "error",
			server: func(kycv1.LivenessService_CheckServer, context.CancelFunc) error {
				return status.Error(grpccodes.Unavailable, "down")
			},
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, _ context.CancelFunc) {
				_ = st.Send(&kycv1.CheckRequest{})
				if _, err := st.CloseAndRecv(); status.Code(err) != grpccodes.Unavailable {
					t.Fatalf("CloseAndRecv = %v, want Unavailable", err)
				}
			},
			want: grpccodes.Unavailable,
		},
		{
			name: "send error",
			server: func(st kycv1.LivenessService_CheckServer, _ context.CancelFunc) error {
				<-st.Context().Done()
				return st.Context().Err()
			},
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, _ context.CancelFunc) {
				if err := st.Send(&kycv1.CheckRequest{Image: make([]byte, 64)}); status.Code(err) != grpccodes.ResourceExhausted {
					t.Fatalf("Send = %v, want ResourceExhausted", err)
				}
			},
			sendOpts: []grpc.CallOption{grpc.MaxCallSendMsgSize(16)},
			want:     grpccodes.ResourceExhausted,
		},
		{
			// The caller cancels without reading, and never touches the stream again:
			// nobody is in a call when the stream ends.
			name: "abandoned",
			server: func(st kycv1.LivenessService_CheckServer, _ context.CancelFunc) error {
				<-st.Context().Done()
				return st.Context().Err()
			},
			run: func(_ *testing.T, st kycv1.LivenessService_CheckClient, cancel context.CancelFunc) {
				_ = st.Send(&kycv1.CheckRequest{})
				_ = st.CloseSend()
				cancel()
			},
			want: grpccodes.Canceled,
		},
		{
			// As abandoned, once the stream committed to its attempt (the caller read its
			// header).
			name: "abandoned after its header",
			server: func(st kycv1.LivenessService_CheckServer, _ context.CancelFunc) error {
				return sendHeaderThenWait(st)
			},
			run: readHeaderThenDrop, want: grpccodes.Canceled,
		},
	}
	for _, withRetry := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("retry=%v/%s", withRetry, tc.name), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				srv := &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
					return tc.server(st, cancel)
				}}
				cfg := threeProfiles()
				if !withRetry {
					p := cfg.Profiles["fast"]
					p.Retry = nil
					cfg.Profiles["fast"] = p
				}
				e := newEnv(t, cfg, srv)
				st, err := e.live.Check(ctx, tc.sendOpts...)
				if err != nil {
					t.Fatal(err)
				}
				tc.run(t, st, cancel)
				attempts := func() []observe.Event {
					var out []observe.Event
					for _, ev := range e.rec.Events(observe.AttemptFinished) {
						if ev.Method == testkit.MethodCheck {
							out = append(out, ev)
						}
					}
					return out
				}
				// An end nobody is reading is seen on grpc's goroutine, and the server may
				// see the last request after the caller is done.
				sent := func() int { return e.srv.Calls(testkit.MethodCheck) }
				testkit.Eventually(t, "fewer AttemptFinished than requests sent", func() bool {
					return sent() > 0 && len(attempts()) >= sent()
				})
				got := attempts()
				ok := len(got) == sent() && got[len(got)-1].Code == tc.want
				for i, ev := range got {
					ok = ok && ev.Attempt == i+1
				}
				if !ok {
					var lines []string
					for _, ev := range e.rec.Events() {
						lines = append(lines, fmt.Sprintf("%s %s %s attempt %d %v", ev.Kind, ev.Policy, ev.Method, ev.Attempt, ev.Code))
					}
					t.Fatalf("%d requests sent; AttemptFinished %+v; want one each, numbered from 1, the last %v; events:\n%s", sent(), got, tc.want, strings.Join(lines, "\n"))
				}
			})
		}
	}
}

// expiringStream is an attempt stream whose header has come, and whose context is an
// Expiring one: Expire stands for gRPC ending the stream by its service config's timeout
// while nobody reads it (streamend's Transport end).
type expiringStream struct {
	*testkit.ScriptedStream
	ctx *testkit.Expiring
}

func (s *expiringStream) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (s *expiringStream) Context() context.Context     { return s.ctx }

// TestStreamTransportEndReportsItsCode: gRPC ends a stream that committed to its attempt (the
// caller read its header) by the deadline of its service config, while nobody reads it. The
// attempt is reported DeadlineExceeded, the code gRPC ended it with, with the profile's retry
// step and without one; not Canceled, the error of the context of the retry loop's stream,
// which ends with its attempt's.
func TestStreamTransportEndReportsItsCode(t *testing.T) {
	for _, withRetry := range []bool{true, false} {
		t.Run(fmt.Sprintf("retry=%v", withRetry), func(t *testing.T) {
			p := config.Profile{}
			if withRetry {
				p.Retry = quickRetry(3)
			}
			cfg := &config.Config{
				Profiles: map[string]config.Profile{"p": p},
				Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
			}
			rec := &testkit.Recorder{}
			s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithClock(clocktest.New(time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			var attempt *expiringStream
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				exp := testkit.NewExpiring(t, ctx)
				attempt = &expiringStream{ScriptedStream: testkit.NewScriptedStream(exp, true), ctx: exp}
				return attempt, nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cs, err := s.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(&kycv1.CheckRequest{}); err != nil {
				t.Fatal(err)
			}
			if md, err := cs.Header(); md == nil || err != nil {
				t.Fatalf("Header = %v, %v; want the header", md, err)
			}
			attempt.ctx.Expire()
			// The end nobody reads is seen on the context's goroutine.
			testkit.Eventually(t, "no AttemptFinished", func() bool { return len(rec.Events(observe.AttemptFinished)) > 0 })
			got := rec.Events(observe.AttemptFinished)
			if len(got) != 1 || got[0].Attempt != 1 || got[0].Code != grpccodes.DeadlineExceeded {
				t.Fatalf("AttemptFinished %+v; want one, attempt 1, DeadlineExceeded", got)
			}
		})
	}
}
