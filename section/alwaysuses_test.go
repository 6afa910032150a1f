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

// The tally section is always on (Spec.Always) and its objects use the classifier whatever
// their value, as a Uses that ignores its argument says (the built-ins' form): a chain
// whose method classifies otherwise than its service must have an object of its own.

type tallyConfig struct {
	Limit int `yaml:"limit"`
}

type tallyObj struct{}

func (*tallyObj) Unary() grpc.UnaryClientInterceptor   { return nil }
func (*tallyObj) Stream() grpc.StreamClientInterceptor { return nil }

// tallyBuilds records the builds of tally objects: the name each was built under and whether
// it replaced one.
var tallyBuilds struct {
	mu    sync.Mutex
	names []string
	repl  []bool
}

func init() {
	section.Register(section.Spec[tallyConfig]{
		Key:    "tally",
		Rank:   section.RankRateLimit + 20,
		Always: true,
		Uses:   func(tallyConfig) section.Uses { return section.UsesClassifier },
		Build: func(env *section.Env, _ tallyConfig) (section.Built, error) {
			tallyBuilds.mu.Lock()
			defer tallyBuilds.mu.Unlock()
			tallyBuilds.names = append(tallyBuilds.names, env.Name)
			tallyBuilds.repl = append(tallyBuilds.repl, env.Replacing)
			return section.Step(&tallyObj{}, nil)
		},
	})
}

// A method whose classifier differs from its service's names an Always section's object of
// its own, as it does for a section that is on: the suite judged such a section off (no
// value) as using nothing, so the method named its service's object with another
// fingerprint, and the method's chain and the service's shared chain replaced each other's
// object at every build, losing its state and building it afresh after every reload.
func TestAlwaysSectionUsingClassifierIsNotSharedAcrossClassifiers(t *testing.T) {
	cfg, _, err := config.Parse("tally.yaml", []byte(`
services:
  kyc.v1.OCRService:
    methods:
      Extract:
        classifier:
          codes: {UNAVAILABLE: business}
`))
	if err != nil {
		t.Fatal(err)
	}
	tallyBuilds.mu.Lock()
	tallyBuilds.names, tallyBuilds.repl = nil, nil
	tallyBuilds.mu.Unlock()
	callAcrossReloads(t, cfg, "kyc.v1.OCRService")
	tallyBuilds.mu.Lock()
	defer tallyBuilds.mu.Unlock()
	// The configuration's other services (the built-in profiles') build theirs too.
	var names []string
	var repl []bool
	for i, n := range tallyBuilds.names {
		if strings.Contains(n, "OCRService") {
			names, repl = append(names, n), append(repl, tallyBuilds.repl[i])
		}
	}
	want := []string{"/kyc.v1.OCRService/Extract", "kyc.v1.OCRService"}
	if !slices.Equal(names, want) {
		t.Fatalf("OCRService's tally objects built under %q (replacing: %v); want %q, each once, kept across reloads",
			names, repl, want)
	}
}

// callAcrossReloads builds a suite of cfg and calls service's Extract, then its Other, once
// and again after each of two reloads of cfg: Extract's chain (built at New) comes before the
// service's (built on Other's first call), and the reloads build both again.
func callAcrossReloads(t *testing.T, cfg *config.Config, service string) {
	t.Helper()
	s, err := interceptors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	call := func(method string) {
		t.Helper()
		if err := s.Unary()(context.Background(), "/"+service+"/"+method, nil, nil, nil, ok); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
	for i := range 3 {
		if i > 0 {
			if err := s.Reload(cfg); err != nil {
				t.Fatal(err)
			}
		}
		call("Extract")
		call("Other")
	}
}
