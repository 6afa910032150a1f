package retry_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// flowAttempt is a bidirectional attempt stream under flow control, as gRPC's is with a server
// that echoes: its SendMsg blocks until the caller has received (the server reads the next
// message only once its reply was read), and its RecvMsg returns a reply at once, letting the
// blocked send go on.
type flowAttempt struct {
	ctx     context.Context
	sending chan struct{} // closed when SendMsg blocks
	read    chan struct{} // closed by the first RecvMsg after SendMsg blocked
	block   bool
}

func (a *flowAttempt) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (a *flowAttempt) Trailer() metadata.MD         { return nil }
func (a *flowAttempt) CloseSend() error             { return nil }
func (a *flowAttempt) Context() context.Context     { return a.ctx }

func (a *flowAttempt) SendMsg(any) error {
	if !a.block {
		return nil
	}
	close(a.sending)
	<-a.read
	return nil
}

func (a *flowAttempt) RecvMsg(any) error {
	if a.block {
		select {
		case <-a.read:
		default:
			close(a.read)
		}
	}
	return nil
}

// TestStreamSendDoesNotBlockRecv: a send blocked in the attempt's SendMsg (gRPC's flow control:
// the server reads on once the client reads its replies) must not keep RecvMsg from receiving
// on another goroutine, as grpc allows and grpc-go's own retries do (they send without their
// lock). The retry stream held its lock across the attempt's SendMsg, which RecvMsg takes, so
// a bidirectional stream whose sender was blocked by flow control deadlocked: RecvMsg waited
// for the lock, the send for a receive.
func TestStreamSendDoesNotBlockRecv(t *testing.T) {
	for _, committed := range []bool{false, true} {
		name := "before commit"
		if committed {
			name = "committed"
		}
		t.Run(name, func(t *testing.T) {
			p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a := &flowAttempt{ctx: ctx, sending: make(chan struct{}), read: make(chan struct{})}
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return a, nil
			}
			desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
			cs, err := p.Stream()(ctx, desc, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			if committed {
				if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
					t.Fatal(err)
				}
			}
			a.block = true
			sent := make(chan error, 1)
			go func() { sent <- cs.SendMsg(&kycv1.CheckRequest{Index: 1}) }()
			<-a.sending
			received := make(chan error, 1)
			go func() { received <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
			select {
			case err := <-received:
				if err != nil {
					t.Fatalf("RecvMsg = %v, want a reply", err)
				}
			case <-time.After(10 * time.Second):
				// Deadlocked: let the send go so that no goroutine is left behind.
				close(a.read)
				sendErr, recvErr := <-sent, <-received
				t.Fatalf("RecvMsg blocked while SendMsg waited for a receive (flow control): deadlock (then SendMsg %v, RecvMsg %v)", sendErr, recvErr)
			}
			if err := <-sent; err != nil {
				t.Fatalf("SendMsg = %v", err)
			}
		})
	}
}

// TestStreamBidiEchoOverGRPC: the same over gRPC, with a server that echoes every message: the
// client sends 200 messages of 32 KiB on one goroutine and receives their echoes on another.
// With the lock held across the send, the stream stalled once the flow-control windows
// filled, a few echoes in, until the call's deadline.
func TestStreamBidiEchoOverGRPC(t *testing.T) {
	cc := startLister(t, func(_ any, ss grpc.ServerStream) error {
		for {
			m := new(kycv1.CheckRequest)
			if err := ss.RecvMsg(m); err != nil {
				return nil //nolint:nilerr // the client's CloseSend (io.EOF) or its end ends the echo
			}
			if err := ss.SendMsg(m); err != nil {
				return err
			}
		}
	})
	p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return cc.NewStream(ctx, desc, method, opts...)
	}
	cs, err := p.Stream()(ctx, desc, cc, "/bulwark.test.Echo/Echo", streamer)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	img := make([]byte, 32<<10)
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := cs.SendMsg(&kycv1.CheckRequest{Index: uint32(i), Image: img}); err != nil {
				sent <- err
				return
			}
		}
		sent <- cs.CloseSend()
	}()
	for i := range n {
		m := new(kycv1.CheckRequest)
		if err := cs.RecvMsg(m); err != nil {
			cancel()
			t.Fatalf("RecvMsg of echo %d = %v, want it (SendMsg: %v)", i, err, <-sent)
		}
		if m.GetIndex() != uint32(i) {
			t.Fatalf("echo %d carries index %d", i, m.GetIndex())
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("send side: %v", err)
	}
	if err := cs.RecvMsg(new(kycv1.CheckRequest)); err != io.EOF {
		t.Fatalf("RecvMsg after the echoes = %v, want io.EOF", err)
	}
}
