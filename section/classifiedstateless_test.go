package section_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/section"
	grpccodes "google.golang.org/grpc/codes"
)

// Two sections that set ServiceClassifier where it cannot share an object: judgetoy is
// Stateless (each chain builds its own step), ownedtoy names each chain's object after its
// full method whatever shared says. Each records, by chain, how the classifier its Build got
// classes Unavailable.

type judgeConfig struct {
	On bool `yaml:"on"`
}

var judgeBuilds struct {
	mu     sync.Mutex
	builds []string
}

func recordJudge(key string, env *section.Env) {
	judgeBuilds.mu.Lock()
	defer judgeBuilds.mu.Unlock()
	judgeBuilds.builds = append(judgeBuilds.builds, fmt.Sprintf("%s %s %v", key, env.FullMethod, env.Classifier.ClassOf(grpccodes.Unavailable)))
}

func init() {
	section.Register(section.Spec[judgeConfig]{
		Key:               "judgetoy",
		Rank:              section.RankRateLimit + 44,
		Uses:              func(judgeConfig) section.Uses { return section.UsesClassifier },
		ServiceClassifier: true,
		Stateless:         true,
		Build: func(env *section.Env, _ judgeConfig) (section.Built, error) {
			recordJudge("judgetoy", env)
			return section.Step(&poolObj{}, nil)
		},
	})
	section.Register(section.Spec[judgeConfig]{
		Key:               "ownedtoy",
		Rank:              section.RankRateLimit + 46,
		Uses:              func(judgeConfig) section.Uses { return section.UsesClassifier },
		ServiceClassifier: true,
		Name:              func(_ judgeConfig, _, fullMethod string, _ bool) string { return fullMethod },
		Build: func(env *section.Env, _ judgeConfig) (section.Built, error) {
			recordJudge("ownedtoy", env)
			return section.Step(&poolObj{}, nil)
		},
	})
}

// A method's step that is its own classifies the method's outcomes with the method's
// classifier: ServiceClassifier is about a service's object that its methods share, and a
// Stateless section's step is shared by none (Spec.Stateless). The suite gave a Stateless
// section's step of a method whose only override is its classifier the service's classifier,
// so that it judged the method's business errors (here Unavailable) as the service does. An
// object Name names apart from its service's (ownedtoy) is the method's own too.
func TestServiceClassifierDoesNotReachAMethodsOwnStep(t *testing.T) {
	cfg, _, err := config.Parse("judge.yaml", []byte(`
services:
  kyc.v1.JudgeService:
    judgetoy: {on: true}
    ownedtoy: {on: true}
    methods:
      Extract:
        classifier:
          codes: {UNAVAILABLE: business}
`))
	if err != nil {
		t.Fatal(err)
	}
	judgeBuilds.mu.Lock()
	judgeBuilds.builds = nil
	judgeBuilds.mu.Unlock()
	callAcrossReloads(t, cfg, "kyc.v1.JudgeService")
	judgeBuilds.mu.Lock()
	defer judgeBuilds.mu.Unlock()
	for _, key := range []string{"judgetoy", "ownedtoy"} {
		want := fmt.Sprintf("%s /kyc.v1.JudgeService/Extract %v", key, codes.Business)
		wrong := fmt.Sprintf("%s /kyc.v1.JudgeService/Extract %v", key, codes.Transient)
		if !slices.Contains(judgeBuilds.builds, want) || slices.Contains(judgeBuilds.builds, wrong) {
			t.Errorf("%s's steps of Extract built as %q; want each with Extract's classifier (Unavailable %v)", key, judgeBuilds.builds, codes.Business)
		}
	}
}
