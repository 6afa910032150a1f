package interceptors_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// TestChatWithATimedOutAttemptsBufferedReplyFinishes: through the suite, a bidi stream's first
// attempt times out while its caller is between its send and its receive, before the header's
// watcher saw the header, with the reply to that send buffered by gRPC. The caller's receive is
// not handed that reply: the attempt is retried, and the call, read to its end, is reported
// once (CallFinished), OK after two attempts. The stream used to commit to the ended attempt
// with its buffered reply, whose end the stream's context took for gRPC's while nobody read
// (no CallFinished), and the caller's last receive got DeadlineExceeded.
func TestChatWithATimedOutAttemptsBufferedReplyFinishes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		s, rec := attemptTimeoutSuite(t, clk, 200*time.Millisecond)
		var opens atomic.Int32
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			if opens.Add(1) == 1 {
				return testkit.NewBufferedStream(ctx, true, false, 0), nil
			}
			return testkit.NewBufferedStream(ctx, false, true, 0, 1), nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cs, err := s.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, nil, testkit.MethodCheck, streamer)
		if err != nil {
			t.Fatal(err)
		}
		recv := func(m any) error { // moving the clock through the retry's backoff
			got := make(chan error, 1)
			go func() { got <- cs.RecvMsg(m) }()
			for {
				synctest.Wait()
				select {
				case err := <-got:
					return err
				default:
					clk.AdvanceWhenWaiting()
				}
			}
		}
		var read []uint32
		for i := range 2 {
			if err := cs.SendMsg(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("send %d: %v", i, err)
			}
			if i == 0 {
				clk.Advance(200 * time.Millisecond) // attempt 1's timeout, between send and receive
				synctest.Wait()
			}
			m := new(kycv1.CheckResponse)
			if err := recv(m); err != nil {
				t.Fatalf("recv %d: %v", i, err)
			}
			read = append(read, m.GetFramesAnalyzed())
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if err := recv(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
			t.Errorf("the last receive = %v, want io.EOF", err)
		}
		if len(read) != 2 || read[0] != 0 || read[1] != 1 {
			t.Errorf("the caller read %v, want [0 1]", read)
		}
		calls := rec.Events(observe.CallFinished)
		if len(calls) != 1 || calls[0].Code != grpccodes.OK || calls[0].Attempt != 2 {
			t.Errorf("CallFinished %+v, want one: OK after 2 attempts", calls)
		}
	})
}
