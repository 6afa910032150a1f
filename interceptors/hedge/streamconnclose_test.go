package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// TestStreamConnCloseReleasesAttemptOne: a hedged client stream whose ClientConn shuts down
// before its reply phase, its caller neither reading nor canceling (gRPC counts the Close as
// releasing the stream), releases what it holds for hedging: attempt 1's context ends, as the
// retry stream's attempts do, instead of staying among the caller's context's children until
// that context ends.
func TestStreamConnCloseReleasesAttemptOne(t *testing.T) {
	s := newSetup(t, hedge.Config{Delay: delay})
	srv := testkit.Start(t, &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
		<-st.Context().Done()
		return st.Context().Err()
	}})
	opened := make(chan context.Context, 1)
	below := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		opened <- ctx
		return streamer(ctx, desc, cc, method, opts...)
	}
	cc := srv.Dial(t, grpc.WithChainStreamInterceptor(s.p.Stream(), below))
	ctx, cancel := context.WithCancel(context.Background()) // lives on: the caller does not cancel
	defer cancel()
	st, err := kycv1.NewLivenessServiceClient(cc).Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&kycv1.CheckRequest{Image: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	attempt1 := <-opened
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-attempt1.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("attempt 1's context still live 10s after its ClientConn was closed: the hedged stream keeps it until the caller's context ends")
	}
}
