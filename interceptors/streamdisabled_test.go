package interceptors_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestRetryDisabledStreamReportsItsAttempt: a stream made with retry.Disable through a suite's
// retry step is one request, reported by one AttemptFinished (attempt 1) when the stream ends,
// as a unary call made so is (TestRetryDisabledReportsItsAttempt): on every way a stream ends
// (internal/streamend), those the caller never sees the end of included.
func TestRetryDisabledStreamReportsItsAttempt(t *testing.T) {
	cases := []struct {
		name string
		// server handles the stream; cancel ends the caller's context.
		server func(st kycv1.LivenessService_CheckServer, cancel context.CancelFunc) error
		// run uses the stream opened with ctx the way the case ends it.
		run      func(t *testing.T, st kycv1.LivenessService_CheckClient, cancel context.CancelFunc)
		sendOpts []grpc.CallOption
		want     grpccodes.Code
		// async: the end may be seen on another goroutine than the caller's.
		async bool
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
			// The server cancels the caller's context once it holds the stream: the caller's
			// RecvMsg returns Canceled, or the stream is abandoned just before it.
			name: "caller's cancel",
			server: func(st kycv1.LivenessService_CheckServer, cancel context.CancelFunc) error {
				cancel()
				<-st.Context().Done()
				return st.Context().Err()
			},
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, _ context.CancelFunc) {
				_ = st.Send(&kycv1.CheckRequest{})
				if _, err := st.CloseAndRecv(); status.Code(err) != grpccodes.Canceled {
					t.Fatalf("CloseAndRecv = %v, want Canceled", err)
				}
			},
			want:  grpccodes.Canceled,
			async: true,
		},
		{
			// The caller cancels without reading: nobody is in a call when the stream ends.
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
			want:  grpccodes.Canceled,
			async: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
				return tc.server(st, cancel)
			}}
			e := newEnv(t, threeProfiles(), srv)
			st, err := e.live.Check(ctx, append([]grpc.CallOption{retry.Disable()}, tc.sendOpts...)...)
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
			if tc.async {
				// An end nobody is reading is seen on grpc's goroutine.
				testkit.Eventually(t, "no AttemptFinished for the stream's one request", func() bool { return len(attempts()) > 0 })
			}
			got := attempts()
			if len(got) != 1 || got[0].Attempt != 1 || got[0].Code != tc.want || got[0].Policy != observe.PolicyRetry {
				var lines []string
				for _, ev := range e.rec.Events() {
					lines = append(lines, fmt.Sprintf("%s %s %s attempt %d %v", ev.Kind, ev.Policy, ev.Method, ev.Attempt, ev.Code))
				}
				t.Fatalf("AttemptFinished %+v; want one, attempt 1, %v, by retry; events:\n%s", got, tc.want, strings.Join(lines, "\n"))
			}
		})
	}
}

// TestRetryDisabledUnderHedgeReportsEachRequestOnce: a call made with retry.Disable through a
// suite whose chain has a hedging policy below the retry step (as the built-in ml profile
// does). The hedge reports the requests it sends, the first included, through the retry
// step's Round, and the retry step then reports none: one AttemptFinished per request sent,
// hedged or not, unary or client stream.
func TestRetryDisabledUnderHedgeReportsEachRequestOnce(t *testing.T) {
	isHedge := func(ctx context.Context) bool {
		md, _ := metadata.FromIncomingContext(ctx)
		return len(md.Get(hedge.PreviousAttemptsKey)) != 0
	}
	for _, tc := range []struct {
		name   string
		stream bool
		// slow: the first request waits for its cancellation, and a hedge answers.
		slow bool
		fail bool
		want []string // AttemptFinished policy/attempt/code, sorted
	}{
		{name: "unary, answered at once", want: []string{"hedge/1/OK"}},
		{name: "unary, failed at once", fail: true, want: []string{"hedge/1/Unavailable"}},
		{name: "unary, hedged", slow: true, want: []string{"hedge/1/Canceled", "hedge/2/OK"}},
		{name: "stream, answered at once", stream: true, want: []string{"hedge/1/OK"}},
		{name: "stream, hedged", stream: true, slow: true, want: []string{"hedge/1/Canceled", "hedge/2/OK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &testkit.Server{
				CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
					switch {
					case tc.slow && !isHedge(ctx):
						<-ctx.Done()
						return nil, status.FromContextError(ctx.Err()).Err()
					case tc.fail:
						return nil, unavailable()
					}
					return &kycv1.CompareResponse{Similarity: 0.9}, nil
				},
				CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
					if tc.slow && !isHedge(st.Context()) {
						<-st.Context().Done()
						return st.Context().Err()
					}
					return testkit.DrainCheck(st, 0.9)
				},
			}
			cfg := threeProfiles()
			for _, name := range []string{"ml", "fast"} {
				p := cfg.Profiles[name]
				// Where the first request answers at once, a delay past any slow start of
				// the connection, so that no hedge is sent.
				p.Hedge = &hedge.Config{Delay: 4 * time.Second}
				if tc.slow {
					p.Hedge.Delay = 20 * time.Millisecond
				}
				cfg.Profiles[name] = p
			}
			e := newEnv(t, cfg, srv)
			method := testkit.MethodCompare
			var err error
			if tc.stream {
				method = testkit.MethodCheck
				_, err = e.check(context.Background(), 2, retry.Disable())
			} else {
				_, err = e.face.Compare(context.Background(), &kycv1.CompareRequest{}, retry.Disable())
			}
			if (err != nil) != tc.fail {
				t.Fatalf("call: %v", err)
			}
			got := func() []string {
				var out []string
				for _, ev := range e.rec.Events(observe.AttemptFinished) {
					if ev.Method == method {
						out = append(out, ev.Policy+"/"+strconv.Itoa(ev.Attempt)+"/"+ev.Code.String())
					}
				}
				slices.Sort(out)
				return out
			}
			// A stream's losing attempt ends on grpc's goroutine, and the server may see a
			// request that lost only after the call is over, or, on a busy machine, never:
			// the hedge's answer can cancel the first request before the server has read
			// it, and the server's method is called only with the request read.
			least := len(tc.want)
			if tc.slow {
				least--
			}
			testkit.Eventually(t, "fewer AttemptFinished than wanted", func() bool { return len(got()) >= len(tc.want) })
			testkit.Eventually(t, "fewer requests than wanted", func() bool { return e.srv.Calls(method) >= least })
			if sent := e.srv.Calls(method); sent < least || sent > len(tc.want) || !slices.Equal(got(), tc.want) {
				t.Fatalf("%d requests sent (want %d, or one fewer where the first was canceled on its way); AttemptFinished %v, want %v", sent, len(tc.want), got(), tc.want)
			}
		})
	}
}
