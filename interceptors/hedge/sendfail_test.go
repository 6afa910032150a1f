package hedge_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sendFails is attempt 1 of a client stream whose SendMsg fails with the client's own error
// (a message over the size limit, say): grpc ends the stream with it.
type sendFails struct{ grpc.ClientStream }

func (sendFails) SendMsg(any) error {
	return status.Error(grpccodes.ResourceExhausted, "message too large")
}

// TestStreamSendErrorReleasesTheContext: a SendMsg that fails other than with io.EOF ends a
// client stream (grpc: the caller need not call RecvMsg after it), and the hedged stream then
// releases the context it made for attempt 1, instead of keeping it among the caller's
// context's children until that context ends, with the messages kept for replay.
func TestStreamSendErrorReleasesTheContext(t *testing.T) {
	s := newSetup(t, hedge.Config{})
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	var opened context.Context
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened = ctx
		return sendFails{}, nil
	}
	cs, err := s.p.Stream()(caller, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	if opened == nil || opened == caller {
		t.Fatal("the stream was not hedged: the streamer got the caller's context")
	}
	if err := cs.SendMsg(&kycv1.CheckRequest{Index: 1}); status.Code(err) != grpccodes.ResourceExhausted {
		t.Fatalf("SendMsg = %v, want attempt 1's error", err)
	}
	if opened.Err() == nil {
		t.Fatal("attempt 1's context is still live after SendMsg ended the stream with an error")
	}
}
