// Package testkit holds what the tests of every bulwark package share: a scripted gRPC stub of
// the KYC services over bufconn, status builders and an event recorder.
package testkit

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Full method names of the stub's methods.
const (
	MethodCheck   = "/kyc.v1.LivenessService/Check"
	MethodCompare = "/kyc.v1.FaceMatchService/Compare"
	MethodExtract = "/kyc.v1.OCRService/Extract"
	MethodVerify  = "/kyc.v1.KYCService/Verify"
)

// Server is a scripted stub of the four KYC services. Each method calls its F field when set,
// else answers with a fixed success. It records every call's metadata and, for Check, the
// frames it received. Set the F fields before Start.
type Server struct {
	kycv1.UnimplementedLivenessServiceServer
	kycv1.UnimplementedFaceMatchServiceServer
	kycv1.UnimplementedOCRServiceServer
	kycv1.UnimplementedKYCServiceServer

	// CheckF handles LivenessService.Check. call is the 1-based count of Check calls so far.
	CheckF func(call int, stream kycv1.LivenessService_CheckServer) error
	// CompareF handles FaceMatchService.Compare.
	CompareF func(ctx context.Context, call int, req *kycv1.CompareRequest) (*kycv1.CompareResponse, error)
	// ExtractF handles OCRService.Extract.
	ExtractF func(ctx context.Context, call int, req *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error)
	// VerifyF handles KYCService.Verify (a method without an idempotency option).
	VerifyF func(ctx context.Context, call int, req *kycv1.VerifyRequest) (*kycv1.VerifyResponse, error)

	calls sync.Map // full method → *atomic.Int64

	mu       sync.Mutex
	metadata map[string][]metadata.MD // Guarded by mu: incoming metadata per call, per method.
	frames   [][]uint32               // Guarded by mu: frame indexes received by each Check call.

	lis *bufconn.Listener
	srv *grpc.Server
}

// Start serves s on a bufconn listener until the test ends.
func Start(tb testing.TB, s *Server, opts ...grpc.ServerOption) *Server {
	tb.Helper()
	s.lis = bufconn.Listen(1 << 20)
	s.srv = grpc.NewServer(opts...)
	kycv1.RegisterLivenessServiceServer(s.srv, s)
	kycv1.RegisterFaceMatchServiceServer(s.srv, s)
	kycv1.RegisterOCRServiceServer(s.srv, s)
	kycv1.RegisterKYCServiceServer(s.srv, s)
	go func() { _ = s.srv.Serve(s.lis) }()
	tb.Cleanup(s.srv.Stop)
	return s
}

// Dial returns a client connection to s with the given options (insecure credentials are
// added), closed when the test ends.
func (s *Server) Dial(tb testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	cc, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		tb.Fatalf("testkit: dial: %v", err)
	}
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Stop stops the server at once, failing calls in flight, as an outage would.
func (s *Server) Stop() { s.srv.Stop() }

// Calls returns how many calls of the full method the server has received.
func (s *Server) Calls(method string) int {
	if c, ok := s.calls.Load(method); ok {
		return int(c.(*atomic.Int64).Load())
	}
	return 0
}

// Metadata returns the incoming metadata of each call of method, in order of arrival.
func (s *Server) Metadata(method string) []metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]metadata.MD(nil), s.metadata[method]...)
}

// Frames returns, for each Check call, the frame indexes it received in order.
func (s *Server) Frames() [][]uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]uint32, len(s.frames))
	for i, f := range s.frames {
		out[i] = append([]uint32(nil), f...)
	}
	return out
}

func (s *Server) record(ctx context.Context, method string) int {
	c, _ := s.calls.LoadOrStore(method, new(atomic.Int64))
	n := int(c.(*atomic.Int64).Add(1))
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	if s.metadata == nil {
		s.metadata = map[string][]metadata.MD{}
	}
	s.metadata[method] = append(s.metadata[method], md.Copy())
	s.mu.Unlock()
	return n
}

// Check implements kycv1.LivenessServiceServer.
func (s *Server) Check(stream kycv1.LivenessService_CheckServer) error {
	n := s.record(stream.Context(), MethodCheck)
	s.mu.Lock()
	s.frames = append(s.frames, nil)
	idx := len(s.frames) - 1
	s.mu.Unlock()
	rec := &recordingStream{LivenessService_CheckServer: stream, s: s, idx: idx}
	if s.CheckF != nil {
		return s.CheckF(n, rec)
	}
	return DrainCheck(rec, 0.9)
}

type recordingStream struct {
	kycv1.LivenessService_CheckServer
	s   *Server
	idx int
}

func (r *recordingStream) Recv() (*kycv1.CheckRequest, error) {
	m, err := r.LivenessService_CheckServer.Recv()
	if err == nil {
		r.s.mu.Lock()
		r.s.frames[r.idx] = append(r.s.frames[r.idx], m.GetIndex())
		r.s.mu.Unlock()
	}
	return m, err
}

// DrainCheck reads every frame of a Check stream and answers with the given score.
func DrainCheck(stream kycv1.LivenessService_CheckServer, score float32) error {
	var n uint32
	for {
		_, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		n++
	}
	return stream.SendAndClose(&kycv1.CheckResponse{Score: score, Verdict: kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE, FramesAnalyzed: n})
}

// Compare implements kycv1.FaceMatchServiceServer.
func (s *Server) Compare(ctx context.Context, req *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	n := s.record(ctx, MethodCompare)
	if s.CompareF != nil {
		return s.CompareF(ctx, n, req)
	}
	return &kycv1.CompareResponse{Similarity: 0.93, Verdict: kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH}, nil
}

// Extract implements kycv1.OCRServiceServer.
func (s *Server) Extract(ctx context.Context, req *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
	n := s.record(ctx, MethodExtract)
	if s.ExtractF != nil {
		return s.ExtractF(ctx, n, req)
	}
	return &kycv1.ExtractResponse{Confidence: 0.97, Fields: &kycv1.DocumentFields{DocumentNumber: "X0000000"}}, nil
}

// Verify implements kycv1.KYCServiceServer.
func (s *Server) Verify(ctx context.Context, req *kycv1.VerifyRequest) (*kycv1.VerifyResponse, error) {
	n := s.record(ctx, MethodVerify)
	if s.VerifyF != nil {
		return s.VerifyF(ctx, n, req)
	}
	return &kycv1.VerifyResponse{VerificationId: req.GetVerificationId(), Decision: kycv1.Decision_DECISION_APPROVED}, nil
}

// FailFirst returns a Compare handler that fails the first n calls with err and then succeeds.
func FailFirst(n int, err error) func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	return func(_ context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if call <= n {
			return nil, err
		}
		return &kycv1.CompareResponse{Similarity: 0.93, Verdict: kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH}, nil
	}
}

// Status builds a status error with code, message, and, when reason is not empty, a
// google.rpc.ErrorInfo with that reason in domain "kyc.example".
func Status(code grpccodes.Code, reason string) error {
	st := status.New(code, code.String())
	if reason != "" {
		st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "kyc.example"})
	}
	return st.Err()
}

// Throttled builds a ResourceExhausted status with a google.rpc.RetryInfo delay.
func Throttled(delay time.Duration) error {
	st, _ := status.New(grpccodes.ResourceExhausted, "overloaded").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
	return st.Err()
}
