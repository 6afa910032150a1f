package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestOnFinishOfAFailedChain: a call whose chain could not be built (here: first called after
// Close) fails with FailedPrecondition without reaching grpc; its OnFinish runs once with that
// error, for a unary call and a stream alike.
func TestOnFinishOfAFailedChain(t *testing.T) {
	s, err := interceptors.New(config.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	var f testkit.Finishes
	err = s.Unary()(context.Background(), "/b.v1.After/Do", nil, nil, nil, inv.Invoke, f.Option())
	if status.Code(err) != grpccodes.FailedPrecondition {
		t.Fatalf("unary call after Close: %v, want FailedPrecondition", err)
	}
	if errs := f.Errs(); len(errs) != 1 || errs[0] != err {
		t.Errorf("unary call after Close: OnFinish ran %d times with %v, want once with %v", len(errs), errs, err)
	}
	var g testkit.Finishes
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		t.Fatal("the streamer was reached")
		return nil, nil
	}
	_, err = s.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/b.v1.After/Watch", streamer, g.Option())
	if status.Code(err) != grpccodes.FailedPrecondition {
		t.Fatalf("stream after Close: %v, want FailedPrecondition", err)
	}
	if errs := g.Errs(); len(errs) != 1 || errs[0] != err {
		t.Errorf("stream after Close: OnFinish ran %d times with %v, want once with %v", len(errs), errs, err)
	}
}
