package benchmarks

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// Full method names the server answers.
const (
	MethodCompare = "/kyc.v1.FaceMatchService/Compare"
	MethodCheck   = "/kyc.v1.LivenessService/Check"
)

// Server serves FaceMatchService.Compare and LivenessService.Check over bufconn. Healthy, it
// answers every call with a fixed reply; SetFailRate makes a share of requests fail with
// Unavailable, SetDown makes all of them fail. It counts the requests that reach it.
// A Server is safe for concurrent use.
type Server struct {
	kycv1.UnimplementedFaceMatchServiceServer
	kycv1.UnimplementedLivenessServiceServer

	failPPM  atomic.Int64 // failures per million requests
	down     atomic.Bool
	requests atomic.Int64
	failures atomic.Int64
	hold     atomic.Pointer[chan struct{}] // while set, Compare waits for it to close
	waiting  atomic.Int64                  // Compare calls waiting on hold
	latency  atomic.Int64                  // how long Compare takes before it answers, in ns

	mu  sync.Mutex
	rng *rand.Rand // Guarded by mu.

	lis *bufconn.Listener
	srv *grpc.Server
}

// errUnavailable is the transient failure the server injects.
var errUnavailable = status.Error(grpccodes.Unavailable, "benchmarks: injected fault")

// compareReply is shared by every call: the server only reads it to marshal it.
var compareReply = &kycv1.CompareResponse{Similarity: 0.93, Verdict: kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH}

// StartServer serves a new Server on a bufconn listener. seed fixes the sequence of injected
// faults. Stop it when done.
func StartServer(seed uint64) *Server {
	s := &Server{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		lis: bufconn.Listen(1 << 20),
		srv: grpc.NewServer(),
	}
	kycv1.RegisterFaceMatchServiceServer(s.srv, s)
	kycv1.RegisterLivenessServiceServer(s.srv, s)
	go func() { _ = s.srv.Serve(s.lis) }()
	return s
}

// Dial returns a client connection to s through the given options (insecure credentials and
// the bufconn dialer are added). The caller closes it.
func (s *Server) Dial(opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	return grpc.NewClient("passthrough:///bufnet", opts...)
}

// Stop stops the server at once.
func (s *Server) Stop() {
	s.srv.Stop()
	_ = s.lis.Close()
}

// SetFailRate makes a share p (0 to 1) of the requests fail with Unavailable, drawn at random.
func (s *Server) SetFailRate(p float64) { s.failPPM.Store(int64(p * 1e6)) }

// SetLatency makes every Compare take d (a timer, not CPU: an inference service's GPU wait)
// before it answers, or its caller gives up; 0 answers at once.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetDown makes every request fail with Unavailable (true) or stops doing so (false).
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// Requests returns how many requests (a whole Check stream counts as one) reached the server.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Failures returns how many of them the server failed on purpose.
func (s *Server) Failures() int64 { return s.failures.Load() }

// ResetCounts sets Requests and Failures back to 0.
func (s *Server) ResetCounts() {
	s.requests.Store(0)
	s.failures.Store(0)
}

// fault counts a request and says whether it must fail.
func (s *Server) fault() error {
	s.requests.Add(1)
	fail := s.down.Load()
	if ppm := s.failPPM.Load(); !fail && ppm > 0 {
		s.mu.Lock()
		fail = s.rng.Int64N(1e6) < ppm
		s.mu.Unlock()
	}
	if fail {
		s.failures.Add(1)
		return errUnavailable
	}
	return nil
}

// Hold makes every Compare that arrives from now on wait until release is called, so that
// calls can be kept in flight (see Waiting). Only one hold at a time.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.hold.Store(&ch)
	return func() {
		s.hold.Store(nil)
		close(ch)
	}
}

// Waiting returns how many Compare calls wait on a Hold.
func (s *Server) Waiting() int64 { return s.waiting.Load() }

// Compare implements kycv1.FaceMatchServiceServer.
func (s *Server) Compare(ctx context.Context, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	if h := s.hold.Load(); h != nil {
		s.waiting.Add(1)
		select {
		case <-*h:
		case <-ctx.Done():
		}
		s.waiting.Add(-1)
	}
	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if err := s.fault(); err != nil {
		return nil, err
	}
	return compareReply, nil
}

// Check implements kycv1.LivenessServiceServer: it reads every frame, then answers.
func (s *Server) Check(stream kycv1.LivenessService_CheckServer) error {
	var (
		req    kycv1.CheckRequest
		frames uint32
	)
	for {
		err := stream.RecvMsg(&req)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		frames++
	}
	if err := s.fault(); err != nil {
		return err
	}
	return stream.SendAndClose(&kycv1.CheckResponse{
		Score: 0.97, Verdict: kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE, FramesAnalyzed: frames,
	})
}

// Frames is the liveness video the stream benchmarks send: StreamFrames small frames.
const StreamFrames = 5

// NewFrames returns StreamFrames frames of 64 bytes each.
func NewFrames() []*kycv1.CheckRequest {
	out := make([]*kycv1.CheckRequest, StreamFrames)
	for i := range out {
		img := make([]byte, 64)
		for j := range img {
			img[j] = byte(i*31 + j)
		}
		out[i] = &kycv1.CheckRequest{Index: uint32(i), Image: img}
	}
	return out
}

// CallCheck sends frames on one Check stream and returns the response.
func CallCheck(ctx context.Context, client kycv1.LivenessServiceClient, frames []*kycv1.CheckRequest) (*kycv1.CheckResponse, error) {
	stream, err := client.Check(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range frames {
		if err := stream.Send(f); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server ended the stream: CloseAndRecv returns its status
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}
