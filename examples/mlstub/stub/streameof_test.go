package stub

import (
	"context"
	"io"
	"testing"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/test/bufconn"
)

// eofStream is a server stream whose client has gone: its context is cancelled.
type eofStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s eofStream) Context() context.Context { return s.ctx }

// Regression: when the client went away before the answer, SendAndClose returns io.EOF, which
// the stub counted as Unknown, a server fault, where every other client-gone end is Canceled.
func TestStreamEOFAfterClientLeftCountsCanceled(t *testing.T) {
	s, err := Start(context.Background(), Config{}, WithListener(bufconn.Listen(1<<16)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	info := &grpc.StreamServerInfo{FullMethod: MethodCheck, IsClientStream: true}
	ranHandler := false
	_ = s.stream(nil, eofStream{ctx: ctx}, info, func(any, grpc.ServerStream) error {
		ranHandler = true
		return io.EOF // what SendAndClose returns once the client is gone
	})
	if !ranHandler {
		t.Fatal("the handler did not run")
	}
	if n := s.Requests(MethodCheck, grpccodes.Unknown); n != 0 {
		t.Errorf("counted %d Unknown for a client that left", n)
	}
	if n := s.Requests(MethodCheck, grpccodes.Canceled); n != 1 {
		t.Errorf("counted %d Canceled, want 1", n)
	}
}
