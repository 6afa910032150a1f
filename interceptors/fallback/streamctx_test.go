package fallback_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// endingStream is a server stream that fails its first RecvMsg and, as gRPC's does, ends its
// context as it does.
type endingStream struct {
	grpc.ClientStream
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *endingStream) Context() context.Context { return s.ctx }
func (s *endingStream) SendMsg(any) error        { return nil }
func (s *endingStream) CloseSend() error         { return nil }
func (s *endingStream) RecvMsg(any) error {
	s.cancel()
	return testkit.Status(grpccodes.Unavailable, "down")
}

// Regression: a server stream the fallback answered (its message, then io.EOF) still gave the
// failed gRPC stream's context, which had ended, as its own. An interceptor above that watches
// the stream's end (the suite's observer, see internal/streamend) took that context's end,
// while the caller had yet to read the io.EOF, for gRPC ending an abandoned stream (Transport):
// the suite emitted no CallFinished for the call. The stream the fallback answers ends at the
// io.EOF it returns, whether the caller read the stream's Context before or not.
func TestServedServerStreamEndsAtItsEOF(t *testing.T) {
	reply := &kycv1.CheckResponse{Score: 0.5}
	for _, readCtx := range []bool{false, true} {
		name := map[bool]string{false: "context read after the reply", true: "context read first"}[readCtx]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, err := fallback.New("/bulwark.test.Lister/List", fallback.Config{}, fallback.Message(reply))
				if err != nil {
					t.Fatal(err)
				}
				caller, cancelCaller := context.WithCancel(context.Background())
				defer cancelCaller()
				desc := &grpc.StreamDesc{ServerStreams: true}
				sctx, cancel := context.WithCancel(caller)
				defer cancel()
				open := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
					return &endingStream{ctx: sctx, cancel: cancel}, nil
				}
				cs, err := f.Stream()(caller, desc, nil, "/bulwark.test.Lister/List", open)
				if err != nil {
					t.Fatal(err)
				}
				w := streamend.Watch(caller, desc, cs)
				var ends []streamend.End
				w.OnEnd(func(e streamend.End) { ends = append(ends, e) })
				if readCtx {
					_ = w.Context()
				}
				got := new(kycv1.CheckResponse)
				if err := w.RecvMsg(got); err != nil || !proto.Equal(got, reply) {
					t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
				}
				synctest.Wait() // every context callback has run
				if len(ends) != 0 {
					t.Fatalf("the stream ended %+v after the fallback's message, before its io.EOF was read", ends)
				}
				if err := w.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
					t.Fatalf("RecvMsg after the fallback = %v, want io.EOF", err)
				}
				synctest.Wait()
				if want := (streamend.End{Cause: streamend.Recv}); len(ends) != 1 || ends[0] != want {
					t.Fatalf("ends = %+v, want [%+v]", ends, want)
				}
			})
		})
	}
}
