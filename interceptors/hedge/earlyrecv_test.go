package hedge_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// uploadAttempt is a client-streaming attempt whose server sends its header at once and its
// reply once the client has closed its side.
type uploadAttempt struct {
	*testkit.ScriptedStream
	header metadata.MD
	closed chan struct{}
}

func (a *uploadAttempt) Header() (metadata.MD, error) { return a.header, nil }

func (a *uploadAttempt) CloseSend() error {
	close(a.closed)
	return nil
}

func (a *uploadAttempt) RecvMsg(m any) error {
	select {
	case <-a.closed:
		return a.ScriptedStream.RecvMsg(m)
	case <-a.Context().Done():
		return status.FromContextError(a.Context().Err()).Err()
	}
}

// TestStreamHeaderDuringAnUnhedgedReceive: a caller that receives on one goroutine before it
// has closed the send side (to hear of an early answer) and reads the header on another before
// it sends on (the server names the upload in it) gets the header as it arrives, as from
// gRPC's stream: the receive is not hedged, attempt 1 stays the stream the caller sees, and
// there is no winner to wait for. Header used to wait for the receive to return, which waits
// for the caller to close the send side, which waited for Header: a deadlock.
func TestStreamHeaderDuringAnUnhedgedReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		p, err := hedge.New(hedge.Config{Delay: delay}, hedge.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		want := metadata.Pairs("upload", "42")
		var first *uploadAttempt
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			first = &uploadAttempt{testkit.NewScriptedStream(ctx, false), want, make(chan struct{})}
			return first, nil
		}
		cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
		if err != nil {
			t.Fatal(err)
		}
		recvErr := make(chan error, 1)
		go func() { recvErr <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
		synctest.Wait() // the receive waits for the reply
		var md metadata.MD
		headerDone := make(chan struct{})
		go func() {
			defer close(headerDone)
			md, _ = cs.Header()
		}()
		synctest.Wait()
		select {
		case <-headerDone:
		default:
			_ = cs.CloseSend() // unblock the receive, and so Header, to end the test
			<-headerDone
			t.Logf("the receive ended: %v", <-recvErr)
			t.Fatal("Header waited for a receive that was not hedged (which waits for the caller's CloseSend): deadlock")
		}
		if md.Get("upload")[0] != "42" {
			t.Fatalf("Header = %v, want attempt 1's", md)
		}
		if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if err := <-recvErr; err != nil {
			t.Fatalf("RecvMsg = %v, want attempt 1's reply", err)
		}
	})
}
