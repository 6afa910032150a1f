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

// TestOnFinishOncePerCall: a caller's grpc.OnFinish runs once per hedged call, with the call's
// outcome, as grpc documents it; each attempt passed it on to grpc, so the canceled attempt 1
// ran it too, with Canceled, concurrently with the winner.
func TestOnFinishOncePerCall(t *testing.T) {
	p, err := hedge.New(hedge.Config{MaxAttempts: 2, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := testkit.Start(t, testkit.FirstHeldUntilHedged())
	var f testkit.Finishes
	cc := srv.Dial(t, grpc.WithUnaryInterceptor(p.Unary()))
	_, err = kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, f.Option())
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls(testkit.MethodCompare); n != 2 {
		t.Fatalf("%d attempts reached the server, want 2 (the hedge)", n)
	}
	errs := f.Errs()
	if len(errs) != 1 || errs[0] != nil {
		t.Fatalf("OnFinish ran %d times with %v, want once with nil", len(errs), errs)
	}
}
