package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// TestFallbackMessageIsCopiedWhenGiven: fallback.Message keeps a copy of its message, so that
// a program that changes (or reuses) the message after WithFallback does not change what the
// suite serves. The suite builds a method's fallback on the method's first call (and again
// on each reload), and the copy used to be taken there, from the program's message as it was
// then.
func TestFallbackMessageIsCopiedWhenGiven(t *testing.T) {
	cfg := threeProfiles()
	p := cfg.Profiles["ml"]
	p.Fallback = &fallback.Config{}
	cfg.Profiles["ml"] = p
	srv := &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return nil, unavailable()
	}}
	degraded := &kycv1.CompareResponse{Similarity: -1}
	e := newEnv(t, cfg, srv, interceptors.WithFallback(testkit.MethodCompare, fallback.Message(degraded)))
	degraded.Similarity = 0.99 // the program reuses its message after giving it
	p.Retry = quickRetry(2)    // a reload rebuilds the chains
	cfg.Profiles["ml"] = p
	if err := e.suite.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	resp, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{})
	if err != nil || resp.GetSimilarity() != -1 {
		t.Fatalf("resp %v err %v, want the reply as given to WithFallback (similarity -1)", resp, err)
	}
}
