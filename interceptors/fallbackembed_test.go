package interceptors_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

type embeddedReply struct{ fallback.Reply }

// Regression: a type embedding a fallback.Reply passed WithFallback's check
// (fallback.CheckReply), so New took it for a service, and the chain of each of the service's
// methods then failed to build at its first call ("unknown Reply"); for a method, New refused
// it as a reply that "does not fit". Both now refuse it at New with the rule it breaks.
func TestWithFallbackRefusesATypeEmbeddingAReply(t *testing.T) {
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{config.DefaultProfile: {Fallback: &fallback.Config{}}}}
	reply := embeddedReply{fallback.Message(&kycv1.CompareResponse{Similarity: 0.5})}
	for _, target := range []string{svcFaceMatch, "/" + svcFaceMatch + "/*", testkit.MethodCompare} {
		s, err := interceptors.New(cfg, interceptors.WithFallback(target, reply))
		if s != nil {
			_ = s.Close()
		}
		want := "WithFallback: " + strconv.Quote(target) + " has no usable reply: a interceptors_test.embeddedReply is not a Reply: a Reply is one that Message or Func returns"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WithFallback(%q, a type embedding a Reply): New = %v; want an error containing %q", target, err, want)
		}
	}
}
