package interceptors_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// deadlineServerStream is a server stream whose RecvMsg waits for its context, which gRPC's
// stream takes from the call (here: the deadline step's), and fails with its status.
type deadlineServerStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s *deadlineServerStream) Context() context.Context { return s.ctx }
func (s *deadlineServerStream) SendMsg(any) error        { return nil }
func (s *deadlineServerStream) CloseSend() error         { return nil }
func (s *deadlineServerStream) RecvMsg(any) error {
	<-s.ctx.Done()
	return status.FromContextError(s.ctx.Err()).Err()
}

// A stream of a chain without an attempt loop reports its one attempt as it ended below the
// steps before it (a fallback that answers in its place). When the deadline the deadline step
// set (here the call budget's) passes while the caller is not in a call on the stream (it works
// on something else before its first RecvMsg), the attempt ended DeadlineExceeded all the same,
// and the fallback answers the caller's RecvMsg in its place: the attempt is a DeadlineExceeded
// one, not the fallback's success. The suite took the deadline step's context ending for the
// caller abandoning the attempt, noted no outcome for it, and reported the fallback's OK.
func TestStreamAttemptPastTheDeadlineStepReportsItsOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const method = "/bulwark.test.Lister/List"
		s, rec, reply := listerFallback(t, method) // budget 5 s, fallback, no retry
		open := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			return &deadlineServerStream{ctx: ctx}, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st, err := s.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, method, open)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(6 * time.Second) // past the budget, with no call on the stream
		synctest.Wait()
		got := new(kycv1.CheckResponse)
		if err := st.RecvMsg(got); err != nil || !proto.Equal(got, reply) {
			t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
		}
		if err := st.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
			t.Fatalf("RecvMsg after the fallback = %v, want io.EOF", err)
		}
		synctest.Wait()
		atts := rec.Events(observe.AttemptFinished)
		if len(atts) != 1 || atts[0].Code != grpccodes.DeadlineExceeded {
			t.Fatalf("AttemptFinished %+v, want one DeadlineExceeded", atts)
		}
		if calls := rec.Events(observe.CallFinished); len(calls) != 1 || calls[0].Code != grpccodes.OK {
			t.Fatalf("CallFinished %+v, want one OK (the fallback)", calls)
		}
	})
}
