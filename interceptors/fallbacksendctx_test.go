package interceptors_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// sendFailedStream is a gRPC stream whose send fails locally (a message over the size limit):
// as gRPC's does, it finishes the stream there, ending its context, and RecvMsg returns the
// send's error.
type sendFailedStream struct {
	grpc.ClientStream
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func (s *sendFailedStream) Context() context.Context { return s.ctx }
func (s *sendFailedStream) CloseSend() error         { return nil }
func (s *sendFailedStream) SendMsg(any) error {
	s.cancel()
	return s.err
}
func (s *sendFailedStream) RecvMsg(any) error { return s.err }

// Regression: a stream whose send failed with an error the fallback answers (SendMsg then
// returns io.EOF, or nil for a server stream, and RecvMsg the fallback) gave, until the
// fallback was read, gRPC's context, which gRPC ended as the send failed. A caller that asked
// the stream for its Context before CloseAndRecv (or RecvMsg) got a context already done for a
// call that was going to be answered, and the suite, which watches that context once the
// caller asked for it, took its end for gRPC's end of a stream nobody read: the call, answered
// by the fallback, was never reported (no CallFinished).
func TestSendFailureFallbackContextStaysLive(t *testing.T) {
	for _, tc := range []struct {
		name    string
		desc    *grpc.StreamDesc
		sendErr error
	}{
		{"client stream", &grpc.StreamDesc{ClientStreams: true}, io.EOF},
		{"server stream", &grpc.StreamDesc{ServerStreams: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const method = "/bulwark.test.Lister/List"
				s, rec, reply := listerFallback(t, method)
				open := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					sctx, cancel := context.WithCancel(ctx)
					return &sendFailedStream{ctx: sctx, cancel: cancel, err: testkit.Status(grpccodes.ResourceExhausted, "too large")}, nil
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				st, err := s.Stream()(ctx, tc.desc, nil, method, open)
				if err != nil {
					t.Fatal(err)
				}
				if err := st.SendMsg(&kycv1.CheckRequest{}); !errors.Is(err, tc.sendErr) {
					t.Fatalf("SendMsg = %v, want %v", err, tc.sendErr)
				}
				if err := st.Context().Err(); err != nil {
					t.Errorf("Context().Err() after the send failed = %v, want nil: the fallback answers the call", err)
				}
				synctest.Wait() // every context callback runs
				if err := st.CloseSend(); err != nil {
					t.Fatal(err)
				}
				got := new(kycv1.CheckResponse)
				if err := st.RecvMsg(got); err != nil || !proto.Equal(got, reply) {
					t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
				}
				if tc.desc.ServerStreams {
					if err := st.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
						t.Fatalf("RecvMsg after the fallback = %v, want io.EOF", err)
					}
				}
				synctest.Wait()
				wantOneAnsweredCall(t, rec)
			})
		})
	}
}
