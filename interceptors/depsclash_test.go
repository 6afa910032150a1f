package interceptors_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/section"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The tap section names its one object "tap" whatever the chain, as pool does, and captures
// the chain's pool (Captures, Deps): chains that take the tap must capture one pool, or none.
type tapConfig struct {
	On bool `yaml:"on"`
}

type tapObj struct{ pool any }

func init() {
	section.Register(section.Spec[tapConfig]{
		Key:      "tap",
		Rank:     section.RankBulkhead + 55,
		Name:     func(tapConfig, string, string, bool) string { return "tap" },
		Captures: []section.Key{"pool"},
		Deps:     func(env *section.Env, _ tapConfig) []any { return []any{env.Earlier["pool"].Object} },
		Build: func(env *section.Env, _ tapConfig) (section.Built, error) {
			return section.Built{Object: &tapObj{pool: env.Earlier["pool"].Object}}, nil
		},
	})
}

// tapCfg configures kyc.v1.OCRService (its descriptor registered: its chains built at the
// Reload) and acme.v1.One (none) with the tap on, acme.v1.One with the pool on when pool and
// its method Do listed when listed.
func tapCfg(t *testing.T, pool, listed bool) *config.Config {
	t.Helper()
	one := "    tap: {on: true}\n"
	if pool {
		one += "    pool: {size: 3}\n"
	}
	if listed {
		one += "    methods: {Do: {}}\n"
	}
	cfg, _, err := config.Parse("tap.yaml", fmt.Appendf(nil, "services:\n  kyc.v1.OCRService:\n    tap: {on: true}\n  acme.v1.One:\n%s", one))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A configured service without a registered descriptor whose entry lists no methods has all
// its calls go through a chain built on a first call. Where that chain and a chain built at
// the Reload take one object that captures other objects of theirs (section.Spec.Deps), every
// such call is refused (FailedPrecondition: the object is given two settings), but Reload
// compared the chains without what they capture and took the configuration. It is refused
// at the Reload now, naming the chain, the section, the object and what differs, and the
// configuration in force stays. The chains built at the Reload, which a service that lists
// its methods has, are compared by their build, which the Reload refused already.
func TestReloadRefusesChainsThatCaptureOtherObjectsUnderOneName(t *testing.T) {
	call := func(s *interceptors.Suite, m string) error {
		inv := &testkit.CountingInvoker{}
		return s.Unary()(context.Background(), m, nil, nil, nil, inv.Invoke)
	}
	for _, tc := range []struct {
		name   string
		listed bool
		want   []string
	}{
		{"built on a first call", false, []string{
			"/acme.v1.One/* (the chain of the service's calls, built on a first call", `tap: the object "tap" is also taken by /kyc.v1.OCRService/`, "other objects captured"}},
		{"listed", true, []string{`tap: the object "tap" is also taken by /`, "other objects captured"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newClocked(t, tapCfg(t, false, tc.listed))
			if err := call(s, "/acme.v1.One/Do"); err != nil {
				t.Fatalf("a call before the reload: %v", err)
			}
			err := s.Reload(tapCfg(t, true, tc.listed))
			if err == nil {
				t.Fatalf("the reload that gives acme.v1.One the pool, which its tap captures, took effect; "+
					"a call of it then: %v; want the reload refused, saying %q", call(s, "/acme.v1.One/Do"), tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the reload: %v; want it to say %q", err, w)
				}
			}
			if err := call(s, "/acme.v1.One/Do"); err != nil {
				t.Errorf("a call after the refused reload: %v, want the configuration in force to serve it", err)
			}
			if got := s.Policy("/acme.v1.One/Do").Value("pool"); got != nil {
				t.Errorf("the policy in force after the refused reload has pool %v, want none", got)
			}
		})
	}

	t.Run("same objects captured", func(t *testing.T) {
		// The pool on for both: both chains capture the one pool, and take one tap.
		both := func() *config.Config {
			c := tapCfg(t, true, false)
			ocr := c.Services["kyc.v1.OCRService"]
			ocr.Sections = c.Services["acme.v1.One"].Sections
			c.Services["kyc.v1.OCRService"] = ocr
			return c
		}
		s := newClocked(t, tapCfg(t, false, false))
		if err := s.Reload(both()); err != nil {
			t.Fatalf("a reload whose chains capture the same objects: %v", err)
		}
		if err := call(s, "/acme.v1.One/Do"); status.Code(err) != grpccodes.OK {
			t.Errorf("a call: %v", err)
		}
	})
}
