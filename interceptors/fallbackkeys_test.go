package interceptors_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Regression: WithFallback took any target. One the suite never looks up (a full method
// without its leading slash, a method its registered service does not declare, a method
// named as a service) gave no reply: with a reply_json the suite served it, the reply given
// unused; without one, New failed with "no reply: give Message, Func or reply_json" for the
// method meant, naming neither the target given nor what was wrong with it.
func TestWithFallbackRefusesTargetsNeverLookedUp(t *testing.T) {
	reply := fallback.Func(func(context.Context, string, any, error) proto.Message {
		return &kycv1.CompareResponse{Similarity: 0.5}
	})
	yaml := `
profiles:
  p:
    fallback: {reply_json: '{"similarity": 0.1}'}
services:
  kyc.v1.FaceMatchService: {profile: p}
`
	cfg, _, err := config.Parse("fb.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	noJSON := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	for _, tt := range []struct{ target, want string }{
		{"kyc.v1.FaceMatchService/Compare", "is neither a full method (/package.Service/Method"},
		{"/kyc.v1.FaceMatchService/Compar", "names no method of kyc.v1.FaceMatchService, whose registered descriptor declares Compare"},
		{"/kyc.v1.FaceMatchService", "is not a full method (want /package.Service/Method"},
		{"/kyc.v1.FaceMatchService/", "is not a full method"},
		{"//kyc.v1.FaceMatchService/Compare", "is not a full method"},
		{"/kyc.v1.FaceMatchService/Compare/", "is not a full method"},
		{"kyc.v1.FaceMatchService.Compare", "is a method of kyc.v1.FaceMatchService, not a service: want /kyc.v1.FaceMatchService/Compare"},
		{"", "is neither a full method"},
	} {
		for _, c := range []*config.Config{cfg, noJSON} {
			s, err := interceptors.New(c, interceptors.WithFallback(tt.target, reply))
			if s != nil {
				_ = s.Close()
			}
			if want := "WithFallback: " + strconv.Quote(tt.target) + " " + tt.want; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("WithFallback(%q), reply_json %q: New = %v; want an error containing %q", tt.target, c.Profiles["p"].Fallback.ReplyJSON, err, want)
			}
		}
	}
	// What the suite looks up is taken as before, a service or method of a service no
	// registered descriptor declares included.
	for _, target := range []string{testkit.MethodCompare, "/" + svcFaceMatch + "/*", svcFaceMatch, svcUnlisted, "/" + svcUnlisted + "/Any", "*", "/*/*"} {
		s, err := interceptors.New(noJSON, interceptors.WithFallback(target, reply), interceptors.WithFallback(testkit.MethodCompare, reply))
		if err != nil {
			t.Errorf("WithFallback(%q): New = %v, want a suite", target, err)
			continue
		}
		_ = s.Close()
	}
}

// Regression: WithFallback refused a method named as a service ("pkg.Service.Method") only in
// a target of the service form: in a full method's ("/pkg.Service.Method/*", every method of
// a "service" that is a method; "/pkg.Service.Method/Other") the service part was taken as
// any unregistered service, and the reply given was never served, the suite's calls of
// pkg.Service naming pkg.Service, as the doc's "a method named as a service" is refused.
func TestWithFallbackRefusesAMethodNamedAsServiceInAFullMethod(t *testing.T) {
	reply := fallback.Func(func(context.Context, string, any, error) proto.Message {
		return &kycv1.CompareResponse{Similarity: 0.5}
	})
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{ReplyJSON: `{"similarity": 0.1}`}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	for _, tt := range []struct{ target, want string }{
		{"/kyc.v1.FaceMatchService.Compare/*", "names a method of kyc.v1.FaceMatchService as its service: want /kyc.v1.FaceMatchService/Compare"},
		{"/kyc.v1.FaceMatchService.Compare/Other", "names a method of kyc.v1.FaceMatchService as its service"},
	} {
		s, err := interceptors.New(cfg, interceptors.WithFallback(tt.target, reply))
		if s != nil {
			_ = s.Close()
		}
		if want := "WithFallback: " + strconv.Quote(tt.target) + " " + tt.want; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WithFallback(%q): New = %v; want an error containing %q", tt.target, err, want)
		}
	}
}

// Regression: WithFallback wrote its reply into the fallback.Replies map given by WithValue,
// which is the caller's: a program that builds several suites over one table of replies gave
// each suite the replies of the WithFallback options of the others (and wrote the map while
// another suite's builds read it).
func TestWithFallbackLeavesTheCallersRepliesAlone(t *testing.T) {
	replyOf := func(sim float32) fallback.Reply {
		return fallback.Func(func(context.Context, string, any, error) proto.Message {
			return &kycv1.CompareResponse{Similarity: sim}
		})
	}
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	base := fallback.Replies{svcFaceMatch: replyOf(0.1)}
	s1, err := interceptors.New(cfg, interceptors.WithValue(base), interceptors.WithFallback(testkit.MethodCompare, replyOf(0.5)))
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := interceptors.New(cfg, interceptors.WithValue(base))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if len(base) != 1 {
		t.Errorf("the caller's replies hold %d entries after New, want the 1 given", len(base))
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	for _, tt := range []struct {
		s    *interceptors.Suite
		want float32
	}{{s1, 0.5}, {s2, 0.1}} {
		out := new(kycv1.CompareResponse)
		if err := tt.s.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, out, nil, fail); err != nil {
			t.Fatal(err)
		}
		if out.GetSimilarity() != tt.want {
			t.Errorf("fallback reply similarity %v, want %v", out.GetSimilarity(), tt.want)
		}
	}
}

// Regression: replies given as a fallback.Replies value (WithValue) skipped the target check
// WithFallback makes, so a target the suite never looks up was taken and its reply never
// served.
func TestRepliesGivenByValueAreChecked(t *testing.T) {
	reply := fallback.Func(func(context.Context, string, any, error) proto.Message {
		return &kycv1.CompareResponse{Similarity: 0.5}
	})
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{ReplyJSON: `{"similarity": 0.1}`}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	s, err := interceptors.New(cfg, interceptors.WithValue(fallback.Replies{
		testkit.MethodCompare:             reply,
		"kyc.v1.FaceMatchService.Compare": reply,
		"kyc.v1.FaceMatchService/Compare": reply,
	}))
	if s != nil {
		_ = s.Close()
	}
	for _, want := range []string{
		`WithValue(fallback.Replies): "kyc.v1.FaceMatchService.Compare" is a method of kyc.v1.FaceMatchService, not a service`,
		`WithValue(fallback.Replies): "kyc.v1.FaceMatchService/Compare" is neither a full method`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New = %v; want an error containing %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), strconv.Quote(testkit.MethodCompare)) {
		t.Errorf("New = %v; the valid target %s is named", err, testkit.MethodCompare)
	}
}
