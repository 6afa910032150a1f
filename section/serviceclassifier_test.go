package section_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// The pooltoy section classifies for its service as a whole (Spec.ServiceClassifier): a
// method whose only override is classifier entries shares its service's object, which gets
// the service's classifier whichever chain builds it first, and is built once.

type poolConfig struct {
	Size int `yaml:"size"`
}

type poolObj struct{}

func (*poolObj) Unary() grpc.UnaryClientInterceptor   { return nil }
func (*poolObj) Stream() grpc.StreamClientInterceptor { return nil }

// poolBuilds records each build of a pooltoy object: its name and how its classifier classes
// Unavailable.
var poolBuilds struct {
	mu     sync.Mutex
	builds []string
}

func init() {
	section.Register(section.Spec[poolConfig]{
		Key:               "pooltoy",
		Rank:              section.RankRateLimit + 40,
		Uses:              func(poolConfig) section.Uses { return section.UsesClassifier },
		ServiceClassifier: true,
		Build: func(env *section.Env, _ poolConfig) (section.Built, error) {
			poolBuilds.mu.Lock()
			defer poolBuilds.mu.Unlock()
			poolBuilds.builds = append(poolBuilds.builds, fmt.Sprintf("%s %v", env.Name, env.Classifier.ClassOf(grpccodes.Unavailable)))
			return section.Step(&poolObj{}, nil)
		},
	})
}

func TestServiceClassifierSectionSharedAcrossClassifierOverrides(t *testing.T) {
	cfg, _, err := config.Parse("pool.yaml", []byte(`
services:
  kyc.v1.PoolService:
    pooltoy: {size: 2}
    methods:
      Extract:
        classifier:
          codes: {UNAVAILABLE: business}
`))
	if err != nil {
		t.Fatal(err)
	}
	poolBuilds.mu.Lock()
	poolBuilds.builds = nil
	poolBuilds.mu.Unlock()
	callAcrossReloads(t, cfg, "kyc.v1.PoolService")
	poolBuilds.mu.Lock()
	defer poolBuilds.mu.Unlock()
	var got []string
	for _, b := range poolBuilds.builds {
		if strings.Contains(b, "PoolService") {
			got = append(got, b)
		}
	}
	want := []string{fmt.Sprintf("kyc.v1.PoolService %v", codes.Transient)}
	if !slices.Equal(got, want) {
		t.Fatalf("PoolService's pooltoy objects built as %q; want %q, once, kept across reloads", got, want)
	}
}
