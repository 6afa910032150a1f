package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/protobuf/proto"
)

// Pins what fallback.Func documents: the fallback does not bound a Func. It runs before the
// call returns, with the caller's context, which carries the caller's deadline only: the
// deadline section's default and the budget bound the call below the fallback, not the Func.
// A Func that may block must honour ctx and bound itself.
func TestFallbackFuncGetsTheCallersContext(t *testing.T) {
	type key struct{}
	cfg := &config.Config{Budget: 5 * time.Second, Profiles: map[string]config.Profile{
		config.DefaultProfile: {Deadline: &deadline.Config{Default: time.Second}, Fallback: &fallback.Config{}}}}
	var (
		ran         bool
		gotValue    any
		hasDeadline bool
	)
	s := newClocked(t, cfg, interceptors.WithFallback(testkit.MethodCompare, fallback.Func(func(ctx context.Context, _ string, _ any, _ error) proto.Message {
		ran, gotValue = true, ctx.Value(key{})
		_, hasDeadline = ctx.Deadline()
		return &kycv1.CompareResponse{Similarity: 0.5}
	})))
	fail := &testkit.CountingInvoker{Err: unavailable()}
	ctx := context.WithValue(context.Background(), key{}, "caller")
	var out kycv1.CompareResponse
	if err := s.Unary()(ctx, testkit.MethodCompare, &kycv1.CompareRequest{}, &out, nil, fail.Invoke); err != nil || out.Similarity != 0.5 {
		t.Fatalf("call = %v, similarity %v; want the Func's reply", err, out.Similarity)
	}
	if !ran || gotValue != "caller" {
		t.Fatalf("Func ran %v with value %v; want it run before the call returned, with the caller's context", ran, gotValue)
	}
	if hasDeadline {
		t.Fatal("the Func's context has a deadline; want the caller's, which has none (the default deadline bounds the call below the fallback)")
	}
}
