package fallback_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A Func that declines with a nil pointer of its reply type (a nil *CompareResponse in a
// proto.Message, not a nil interface) lets the error stand, as nil does: it does not serve an
// empty reply.
func TestFuncTypedNilDeclines(t *testing.T) {
	f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Func(func(context.Context, string, any, error) proto.Message {
		var none *kycv1.CompareResponse
		return none
	}))
	if err != nil {
		t.Fatal(err)
	}
	down := status.Error(grpccodes.Unavailable, "down")
	reply := &kycv1.CompareResponse{Similarity: 0.7}
	if err := f.Recover(context.Background(), testkit.MethodCompare, nil, reply, down); err != down {
		t.Errorf("Recover = %v, want the original error", err)
	}
	if f.Served() != 0 || reply.GetSimilarity() != 0.7 {
		t.Errorf("served %d, reply %v; want nothing served and the reply untouched", f.Served(), reply)
	}
}

// Message of a nil pointer is no reply, as Message(nil) is not.
func TestMessageTypedNilRefused(t *testing.T) {
	var none *kycv1.CompareResponse
	if _, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(none)); err == nil {
		t.Error("New accepted Message of a nil *CompareResponse, which serves an empty reply")
	}
}
