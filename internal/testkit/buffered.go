package testkit

import (
	"context"
	"io"
	"sync"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// BufferedStream stands for gRPC's stream of an attempt whose server sent its header and
// replies at once: the replies (each a kycv1.CheckResponse's FramesAnalyzed) are buffered on
// the client, and handed over by RecvMsg even after the attempt's context ended, as gRPC's
// recvBufferReader does (its context's error comes after what it had buffered). Its Header,
// when Held, returns only once the attempt's context ended: a per-attempt timeout's header
// watcher, late on a busy machine, has not seen the header when the timer fires. Once its
// replies are read, a live attempt with EOF ends its stream cleanly; otherwise RecvMsg waits
// for the context to end and returns its status.
type BufferedStream struct {
	Ctx  context.Context
	Held bool
	EOF  bool

	mu      sync.Mutex
	replies []uint32
}

// NewBufferedStream returns a BufferedStream on ctx with replies buffered.
func NewBufferedStream(ctx context.Context, held, eof bool, replies ...uint32) *BufferedStream {
	return &BufferedStream{Ctx: ctx, Held: held, EOF: eof, replies: replies}
}

var _ grpc.ClientStream = (*BufferedStream)(nil)

// Header returns the header "k: v" (gRPC keeps the header that came for Header), once the
// context ended when Held.
func (b *BufferedStream) Header() (metadata.MD, error) {
	if b.Held {
		<-b.Ctx.Done()
	}
	return metadata.Pairs("k", "v"), nil
}

func (b *BufferedStream) Trailer() metadata.MD     { return nil }
func (b *BufferedStream) CloseSend() error         { return nil }
func (b *BufferedStream) Context() context.Context { return b.Ctx }

// SendMsg accepts m while the context is live, and returns io.EOF after.
func (b *BufferedStream) SendMsg(any) error {
	if b.Ctx.Err() != nil {
		return io.EOF
	}
	return nil
}

// RecvMsg hands over the next buffered reply, whatever the context; then io.EOF for a live
// attempt with EOF, or the context's status once it ended.
func (b *BufferedStream) RecvMsg(m any) error {
	b.mu.Lock()
	if len(b.replies) > 0 {
		r := b.replies[0]
		b.replies = b.replies[1:]
		b.mu.Unlock()
		m.(*kycv1.CheckResponse).FramesAnalyzed = r
		return nil
	}
	b.mu.Unlock()
	if b.EOF && b.Ctx.Err() == nil {
		return io.EOF
	}
	<-b.Ctx.Done()
	return status.FromContextError(b.Ctx.Err()).Err()
}
