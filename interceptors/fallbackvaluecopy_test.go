package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Regression: New checked the fallback.Replies given by WithValue, and listed their targets,
// but kept the caller's map itself, which the chains built on a method's first call read. A
// program that changed its table of replies after New (to build another suite from it, say)
// changed what the first suite served, unchecked: a reply removed made every call of a method
// it answered fail with FailedPrecondition, and a write raced the suite's builds. The suite
// keeps the replies it was given, as WithFallback and fallback.Message keep theirs.
func TestRepliesGivenByValueAreTheSuitesOwn(t *testing.T) {
	replyOf := func(sim float32) fallback.Reply {
		return fallback.Func(func(context.Context, string, any, error) proto.Message {
			return &kycv1.CompareResponse{Similarity: sim}
		})
	}
	const svc, method = "test.v1.LaterReplies", "/test.v1.LaterReplies/Compare"
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{config.DefaultProfile: {Fallback: &fallback.Config{}}}}
	table := fallback.Replies{svc: replyOf(0.1)}
	s, err := interceptors.New(cfg, interceptors.WithValue(table))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	delete(table, svc) // the program's table, now for another suite
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	out := new(kycv1.CompareResponse)
	if err := s.Unary()(context.Background(), method, &kycv1.CompareRequest{}, out, nil, fail); err != nil {
		t.Fatalf("a call of %s after the caller's table changed: %v, want the reply given at New", method, err)
	}
	if out.GetSimilarity() != 0.1 {
		t.Errorf("fallback reply similarity %v, want 0.1", out.GetSimilarity())
	}
}
