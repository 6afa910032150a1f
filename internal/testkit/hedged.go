package testkit

import (
	"context"
	"sync"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// FirstHeldUntilHedged returns a server whose first Compare is held until a second one
// arrives (a hedge; at most 10 s), then until its caller cancels it, and whose later
// Compares succeed at once: the hedge wins and attempt 1 ends Canceled.
func FirstHeldUntilHedged() *Server {
	second := make(chan struct{})
	var once sync.Once
	return &Server{CompareF: func(ctx context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if call == 1 {
			select {
			case <-second:
			case <-time.After(10 * time.Second):
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		once.Do(func() { close(second) })
		return &kycv1.CompareResponse{}, nil
	}}
}
