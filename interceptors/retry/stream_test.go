package retry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

const frames = 5

func sendFrames(t *testing.T, c kycv1.LivenessServiceClient, opts ...grpc.CallOption) (*kycv1.CheckResponse, error) {
	t.Helper()
	st, err := c.Check(context.Background(), opts...)
	if err != nil {
		return nil, err
	}
	for i := range frames {
		if err := st.Send(&kycv1.CheckRequest{Index: uint32(i), Image: make([]byte, 100)}); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	return st.CloseAndRecv()
}

// TestStreamReplay: the liveness Check stream fails on its first attempts; each retry
// replays every frame, and the server sees the same frames in the same order on the attempt
// that succeeds (and a prefix of them on those that fail).
func TestStreamReplay(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "GPU restarting")
	tests := []struct {
		name  string
		fail  int
		after int // frames read before failing; frames means at the end, after CloseSend
		cfg   retry.Config
		want  int // attempts
		ok    bool
	}{
		{name: "fails at the end twice", fail: 2, after: frames, want: 3, ok: true},
		{name: "fails mid-stream twice", fail: 2, after: 2, want: 3, ok: true},
		{name: "fails before reading", fail: 1, after: 0, want: 2, ok: true},
		{name: "exhausted", fail: 5, after: frames, want: 3},
		{name: "replay cap commits", fail: 2, after: frames, cfg: retry.Config{ReplayBufferBytes: 300}, want: 1},
		{name: "no buffering", fail: 2, after: frames, cfg: retry.Config{ReplayBufferBytes: -1}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Jitter = retry.JitterNone
			s := newSetup(t, tt.cfg, 0)
			srv := testkit.Start(t, &testkit.Server{CheckF: func(call int, st kycv1.LivenessService_CheckServer) error {
				if call > tt.fail {
					return testkit.DrainCheck(st, 0.9)
				}
				for range tt.after {
					if _, err := st.Recv(); err != nil {
						break
					}
				}
				if tt.after == frames {
					_, _ = st.Recv() // io.EOF: the client closed its side
				}
				return unavailable
			}})
			var info retry.Info
			resp, err := sendFrames(t, kycv1.NewLivenessServiceClient(s.dial(t, srv)), retry.Report(&info))
			s.drv.stop()
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if tt.ok && resp.GetFramesAnalyzed() != frames {
				t.Fatalf("frames analysed = %d", resp.GetFramesAnalyzed())
			}
			if !tt.ok && status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("code = %v", status.Code(err))
			}
			got := srv.Frames()
			if len(got) != tt.want || info.Attempts != tt.want {
				t.Fatalf("attempts: server %d, reported %d, want %d", len(got), info.Attempts, tt.want)
			}
			all := []uint32{0, 1, 2, 3, 4}
			for i, f := range got {
				if tt.after == frames || (tt.ok && i == len(got)-1) {
					if !slices.Equal(f, all) {
						t.Errorf("attempt %d saw frames %v, want %v", i+1, f, all)
					}
				} else if !slices.Equal(f, all[:len(f)]) {
					t.Errorf("attempt %d saw frames %v, not a prefix of %v", i+1, f, all)
				}
			}
			if n := s.rec.Count(observe.AttemptFinished); n != tt.want {
				t.Errorf("attempt events = %d, want %d", n, tt.want)
			}
			md := srv.Metadata(testkit.MethodCheck)
			for i, m := range md {
				if i > 0 && !slices.Equal(m.Get(xRetryAttempt), []string{itoa(i + 1)}) {
					t.Errorf("attempt %d metadata %v", i+1, m.Get(xRetryAttempt))
				}
				// gRFC A6: the attempts sent before this one, none on the first.
				if prev := m.Get(retry.PreviousAttemptsKey); (i == 0 && prev != nil) || (i > 0 && !slices.Equal(prev, []string{itoa(i)})) {
					t.Errorf("attempt %d %s = %v", i+1, retry.PreviousAttemptsKey, prev)
				}
			}
		})
	}
}

// A server-streaming method is not in the KYC protos: this test serves one by hand.
const listMethod = "/bulwark.test.Lister/List"

var listDesc = &grpc.StreamDesc{StreamName: "List", ServerStreams: true}

func startLister(t *testing.T, handler grpc.StreamHandler) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(handler))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient("passthrough:///lister",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// TestServerStreaming: a server-streaming call is retried until its first response arrives,
// never after.
func TestServerStreaming(t *testing.T) {
	tests := []struct {
		name      string
		failFirst int32 // attempts that fail before sending anything
		failAfter bool  // the successful attempt fails after its first message
		wantCalls int32
		wantMsgs  int
		wantCode  grpccodes.Code
	}{
		{name: "retried before the first message", failFirst: 2, wantCalls: 3, wantMsgs: 3, wantCode: grpccodes.OK},
		{name: "not retried after the first message", failAfter: true, wantCalls: 1, wantMsgs: 1, wantCode: grpccodes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			var reqs []uint32
			cc := startLister(t, func(_ any, st grpc.ServerStream) error {
				n := calls.Add(1)
				req := new(kycv1.CheckRequest)
				if err := st.RecvMsg(req); err != nil {
					return err
				}
				reqs = append(reqs, req.GetIndex())
				if n <= tt.failFirst {
					return status.Error(grpccodes.Unavailable, "warming up")
				}
				for i := range 3 {
					if err := st.SendMsg(&kycv1.CheckResponse{FramesAnalyzed: uint32(i)}); err != nil {
						return err
					}
					if tt.failAfter {
						return status.Error(grpccodes.Unavailable, "crashed")
					}
				}
				return nil
			})
			s := newSetup(t, retry.Config{Jitter: retry.JitterNone, Idempotent: true}, 0)
			st, err := s.p.Stream()(context.Background(), listDesc, cc, listMethod,
				func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
					return cc.NewStream(ctx, desc, method, opts...)
				})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SendMsg(&kycv1.CheckRequest{Index: 7}); err != nil {
				t.Fatal(err)
			}
			if err := st.CloseSend(); err != nil {
				t.Fatal(err)
			}
			msgs := 0
			for {
				err = st.RecvMsg(new(kycv1.CheckResponse))
				if err != nil {
					break
				}
				msgs++
			}
			s.drv.stop()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if status.Code(err) != tt.wantCode || msgs != tt.wantMsgs || calls.Load() != tt.wantCalls {
				t.Fatalf("err %v, %d messages, %d calls; want %v, %d, %d", err, msgs, calls.Load(), tt.wantCode, tt.wantMsgs, tt.wantCalls)
			}
			for _, r := range reqs {
				if r != 7 {
					t.Fatalf("requests = %v, want each 7", reqs)
				}
			}
		})
	}
}
