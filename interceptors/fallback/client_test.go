package fallback_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

var inconclusive = &kycv1.CheckResponse{Verdict: kycv1.LivenessVerdict_LIVENESS_VERDICT_UNSPECIFIED}

// TestCheckStream: the liveness Check (client-streaming) gets the fallback from CloseAndRecv when
// the service fails with a chosen error after reading frames, and its own answer otherwise.
func TestCheckStream(t *testing.T) {
	tests := []struct {
		name       string
		serverErr  error // after reading every frame; nil: answer normally
		earlyErr   bool  // fail before reading any frame
		wantServed bool
		wantCode   grpccodes.Code
	}{
		{name: "unavailable after frames", serverErr: testkit.Status(grpccodes.Unavailable, ""), wantServed: true, wantCode: grpccodes.Unavailable},
		{name: "internal before frames", serverErr: testkit.Status(grpccodes.Internal, ""), earlyErr: true, wantServed: true, wantCode: grpccodes.Internal},
		{name: "business error", serverErr: testkit.Status(grpccodes.InvalidArgument, "NO_FACE"), wantCode: grpccodes.InvalidArgument},
		{name: "success", wantCode: grpccodes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.Start(t, &testkit.Server{CheckF: func(_ int, stream kycv1.LivenessService_CheckServer) error {
				if tt.serverErr == nil {
					return testkit.DrainCheck(stream, 0.9)
				}
				if !tt.earlyErr {
					for {
						if _, err := stream.Recv(); err != nil {
							break
						}
					}
				}
				return tt.serverErr
			}})
			rec := &testkit.Recorder{}
			f, err := fallback.New(testkit.MethodCheck, fallback.Config{}, fallback.Message(inconclusive), fallback.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			client := kycv1.NewLivenessServiceClient(srv.Dial(t, grpc.WithStreamInterceptor(f.Stream())))
			s, err := client.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := s.Send(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
					break // io.EOF: the server has already failed; CloseAndRecv tells why
				}
			}
			resp, err := s.CloseAndRecv()
			switch {
			case tt.wantServed:
				if err != nil || !proto.Equal(resp, inconclusive) {
					t.Fatalf("CloseAndRecv = %v, %v; want the fallback", resp, err)
				}
				evs := rec.Events(observe.FallbackServed)
				if len(evs) != 1 || evs[0].Code != tt.wantCode || evs[0].Method != testkit.MethodCheck {
					t.Errorf("events = %+v", evs)
				}
				// The stream is over after the fallback.
				if err := s.RecvMsg(&kycv1.CheckResponse{}); !errors.Is(err, io.EOF) {
					t.Errorf("RecvMsg after the fallback = %v, want io.EOF", err)
				}
			case tt.wantCode == grpccodes.OK:
				if err != nil || resp.GetFramesAnalyzed() != 3 {
					t.Fatalf("CloseAndRecv = %v, %v; want the service's answer", resp, err)
				}
			default:
				if status.Code(err) != tt.wantCode {
					t.Fatalf("CloseAndRecv err = %v, want %v", err, tt.wantCode)
				}
			}
			if !tt.wantServed && f.Served() != 0 {
				t.Errorf("Served = %d, want 0", f.Served())
			}
		})
	}
}

// scriptStream is a server-streaming grpc.ClientStream that delivers msgs, then err.
type scriptStream struct {
	grpc.ClientStream
	msgs []*kycv1.CheckResponse
	err  error
}

func (s *scriptStream) SendMsg(any) error { return nil }

func (s *scriptStream) RecvMsg(m any) error {
	if len(s.msgs) == 0 {
		return s.err
	}
	proto.Merge(m.(proto.Message), s.msgs[0])
	s.msgs = s.msgs[1:]
	return nil
}

// TestServerStream drives the server-streaming rules with a scripted stream (the KYC protos have
// no server-streaming method): a failure before the first message is replaced by the fallback
// and io.EOF; a failure after it is not.
func TestServerStream(t *testing.T) {
	const method = "/kyc.v1.LivenessService/Watch"
	down := testkit.Status(grpccodes.Unavailable, "")
	msg := &kycv1.CheckResponse{Score: 0.5}
	tests := []struct {
		name     string
		desc     *grpc.StreamDesc
		openErr  error
		msgs     []*kycv1.CheckResponse
		err      error
		want     []*kycv1.CheckResponse
		wantErr  error // the error after want; io.EOF or the original
		wantCode grpccodes.Code
	}{
		{name: "fails before first message", desc: &grpc.StreamDesc{ServerStreams: true}, err: down, want: []*kycv1.CheckResponse{inconclusive}, wantErr: io.EOF},
		{name: "fails after a message", desc: &grpc.StreamDesc{ServerStreams: true}, msgs: []*kycv1.CheckResponse{msg}, err: down, want: []*kycv1.CheckResponse{msg}, wantCode: grpccodes.Unavailable},
		{name: "empty stream", desc: &grpc.StreamDesc{ServerStreams: true}, err: io.EOF, wantErr: io.EOF},
		{name: "business error", desc: &grpc.StreamDesc{ServerStreams: true}, err: testkit.Status(grpccodes.NotFound, ""), wantCode: grpccodes.NotFound},
		{name: "open fails", desc: &grpc.StreamDesc{ServerStreams: true}, openErr: down, want: []*kycv1.CheckResponse{inconclusive}, wantErr: io.EOF},
		{name: "open fails client-streaming", desc: &grpc.StreamDesc{ClientStreams: true}, openErr: down, want: []*kycv1.CheckResponse{inconclusive}, wantErr: io.EOF},
		{name: "open fails with business error", desc: &grpc.StreamDesc{ServerStreams: true}, openErr: testkit.Status(grpccodes.PermissionDenied, ""), wantCode: grpccodes.PermissionDenied},
		{name: "bidirectional passes through", desc: &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, err: down, wantCode: grpccodes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := fallback.New("kyc.v1.LivenessService", fallback.Config{}, fallback.Func(func(context.Context, string, any, error) proto.Message { return inconclusive }))
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				if tt.openErr != nil {
					return nil, tt.openErr
				}
				return &scriptStream{msgs: append([]*kycv1.CheckResponse(nil), tt.msgs...), err: tt.err}, nil
			}
			cs, err := f.Stream()(context.Background(), tt.desc, nil, method, streamer)
			if err != nil {
				if tt.openErr == nil || status.Code(err) != tt.wantCode {
					t.Fatalf("open = %v", err)
				}
				return
			}
			if err := cs.SendMsg(&kycv1.CheckRequest{}); err != nil {
				t.Fatalf("SendMsg = %v", err)
			}
			for i, want := range tt.want {
				got := &kycv1.CheckResponse{}
				if err := cs.RecvMsg(got); err != nil || !proto.Equal(got, want) {
					t.Fatalf("RecvMsg %d = %v, %v; want %v", i, got, err, want)
				}
			}
			err = cs.RecvMsg(&kycv1.CheckResponse{})
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("last RecvMsg = %v, want %v", err, tt.wantErr)
			}
			if tt.wantCode != grpccodes.OK && status.Code(err) != tt.wantCode {
				t.Fatalf("last RecvMsg = %v, want %v", err, tt.wantCode)
			}
			wantServed := uint64(0)
			if len(tt.want) > 0 && proto.Equal(tt.want[0], inconclusive) {
				wantServed = 1
			}
			if f.Served() != wantServed {
				t.Errorf("Served = %d, want %d", f.Served(), wantServed)
			}
		})
	}
}

// TestStreamOtherMethodUntouched: a fallback for Compare does not wrap Check streams.
func TestStreamOtherMethodUntouched(t *testing.T) {
	f, _ := fallback.New(testkit.MethodCompare, fallback.Config{OnClasses: []codes.Class{codes.Transient}}, fallback.Message(degraded))
	down := testkit.Status(grpccodes.Unavailable, "")
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, down
	}
	if _, err := f.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer); !errors.Is(err, down) {
		t.Errorf("open = %v, want the original error", err)
	}
}
