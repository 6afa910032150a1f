package testkit

import (
	"context"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// FailingStream is a stream below a policy that fails as gRPC's does: its first RecvMsg, or
// its first SendMsg when Send is set, returns Unavailable and ends its context (Ctx, ended by
// Cancel); RecvMsg returns that status from then on. Its other methods are the embedded
// ClientStream's (nil: they panic, as none of its users call them).
type FailingStream struct {
	grpc.ClientStream
	Ctx    context.Context
	Cancel context.CancelFunc
	Send   bool
}

// Context returns Ctx.
func (s *FailingStream) Context() context.Context { return s.Ctx }

// CloseSend returns nil.
func (s *FailingStream) CloseSend() error { return nil }

// SendMsg fails, when Send is set, with Unavailable, ending Ctx; else it returns nil.
func (s *FailingStream) SendMsg(any) error {
	if s.Send {
		s.Cancel()
		return Status(grpccodes.Unavailable, "too large")
	}
	return nil
}

// RecvMsg ends Ctx and returns Unavailable.
func (s *FailingStream) RecvMsg(any) error {
	s.Cancel()
	return Status(grpccodes.Unavailable, "down")
}
