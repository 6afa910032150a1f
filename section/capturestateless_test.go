package section_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// The follow section captures the chain's deadline step, a stateless section's, which every
// chain builds afresh.

type followConfig struct {
	N int `yaml:"n"`
}

type followObj struct{}

func (*followObj) Unary() grpc.UnaryClientInterceptor   { return nil }
func (*followObj) Stream() grpc.StreamClientInterceptor { return nil }

var followBuilds struct {
	mu    sync.Mutex
	names []string
}

func init() {
	section.Register(section.Spec[followConfig]{
		Key:      "follow",
		Rank:     section.RankRateLimit + 30,
		Captures: []section.Key{"deadline"},
		Deps: func(env *section.Env, _ followConfig) []any {
			return []any{env.Earlier["deadline"].Object}
		},
		Build: func(env *section.Env, _ followConfig) (section.Built, error) {
			followBuilds.mu.Lock()
			defer followBuilds.mu.Unlock()
			followBuilds.names = append(followBuilds.names, env.Name)
			return section.Step(&followObj{}, nil)
		},
	})
}

// An object that captures a stateless section's (Spec.Captures) is its service's only if every
// chain of the service could capture the same one, which no stateless step is: each chain
// builds its own. The suite named such an object after the service, so the chains of one
// reload each built it under that name, replacing the one the chain before took.
func TestObjectCapturingAStatelessStepIsNotShared(t *testing.T) {
	cfg, _, err := config.Parse("follow.yaml", []byte(`
profiles:
  f:
    follow: {n: 1}
services:
  kyc.v1.OCRService:
    profile: f
    methods:
      Extract: {}
      Verify: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	followBuilds.mu.Lock()
	followBuilds.names = nil
	followBuilds.mu.Unlock()
	s, err := interceptors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	if err := s.Unary()(context.Background(), "/kyc.v1.OCRService/Extract", nil, nil, nil, ok); err != nil {
		t.Fatal(err)
	}
	followBuilds.mu.Lock()
	defer followBuilds.mu.Unlock()
	var names []string
	for _, n := range followBuilds.names {
		if strings.Contains(n, "OCRService") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	want := []string{"/kyc.v1.OCRService/Extract", "/kyc.v1.OCRService/Verify"}
	if !slices.Equal(names, want) {
		t.Fatalf("OCRService's follow objects built under %q; want one per method, %q", names, want)
	}
}
