package fallback_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// sendFailStream is a grpc.ClientStream whose send failed, as gRPC's does: SendMsg returns
// the send's error, RecvMsg the stream's status (the same error), and its context has ended
// with the stream.
type sendFailStream struct {
	grpc.ClientStream
	ctx context.Context
	err error
}

func (s *sendFailStream) Context() context.Context { return s.ctx }
func (s *sendFailStream) SendMsg(any) error        { return s.err }
func (s *sendFailStream) RecvMsg(any) error        { return s.err }

// A send that fails with an error the fallback answers returns what gRPC's SendMsg returns
// for a stream whose status RecvMsg returns: nil for a server-streaming call, io.EOF for a
// client-streaming one; the stream's Context is the caller's from then on (gRPC's ended), and
// RecvMsg answers the fallback, then io.EOF. A send that fails with another error (a business
// one) is returned as it is, and the stream keeps gRPC's context.
func TestSendFailureByStreamKind(t *testing.T) {
	down := testkit.Status(grpccodes.Unavailable, "")
	business := testkit.Status(grpccodes.NotFound, "")
	tests := []struct {
		name        string
		desc        *grpc.StreamDesc
		sendErr     error
		wantSendErr error // nil: SendMsg returns nil
		wantServed  bool
	}{
		{name: "server-streaming, chosen error", desc: &grpc.StreamDesc{ServerStreams: true}, sendErr: down, wantServed: true},
		{name: "client-streaming, chosen error", desc: &grpc.StreamDesc{ClientStreams: true}, sendErr: down, wantSendErr: io.EOF, wantServed: true},
		{name: "server-streaming, business error", desc: &grpc.StreamDesc{ServerStreams: true}, sendErr: business, wantSendErr: business},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := fallback.New("kyc.v1.LivenessService", fallback.Config{}, fallback.Func(func(context.Context, string, any, error) proto.Message { return inconclusive }))
			if err != nil {
				t.Fatal(err)
			}
			caller, cancelCaller := context.WithCancel(context.Background())
			defer cancelCaller()
			grpcCtx, endStream := context.WithCancel(caller)
			endStream() // gRPC ended the stream whose send failed
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return &sendFailStream{ctx: grpcCtx, err: tt.sendErr}, nil
			}
			cs, err := f.Stream()(caller, tt.desc, nil, "/kyc.v1.LivenessService/Watch", streamer)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(&kycv1.CheckRequest{}); !errors.Is(err, tt.wantSendErr) || (tt.wantSendErr == nil && err != nil) {
				t.Fatalf("SendMsg = %v, want %v", err, tt.wantSendErr)
			}
			wantCtx := grpcCtx
			if tt.wantServed {
				wantCtx = caller
			}
			who := map[context.Context]string{caller: "the caller's", grpcCtx: "gRPC's"}
			if got := cs.Context(); got != wantCtx {
				t.Errorf("Context() after the failed send is %s, want %s", who[got], who[wantCtx])
			}
			got := &kycv1.CheckResponse{}
			err = cs.RecvMsg(got)
			if !tt.wantServed {
				if status.Code(err) != status.Code(tt.sendErr) || f.Served() != 0 {
					t.Fatalf("RecvMsg = %v (served %d), want the send's error, nothing served", err, f.Served())
				}
				return
			}
			if err != nil || !proto.Equal(got, inconclusive) {
				t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
			}
			if err := cs.RecvMsg(&kycv1.CheckResponse{}); !errors.Is(err, io.EOF) {
				t.Fatalf("RecvMsg after the fallback = %v, want io.EOF", err)
			}
			if f.Served() != 1 {
				t.Errorf("Served = %d, want 1", f.Served())
			}
		})
	}
}
