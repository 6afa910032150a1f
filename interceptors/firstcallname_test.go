package interceptors_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The chains built on a first call (a service outside the configuration, an overflow chain,
// an admitted method) are held to the settings the chains in force gave the object a section
// names "pool" (see pool in customname_test.go), as the chains of one build are: one that
// gives it other settings is
// refused, its calls failing with FailedPrecondition that names the object, the chain that
// holds it and what differs, and the object the chains in force hold stays as it is. The
// suite took it: the first call's build replaced the object under the chains in force, so
// that the kyc.v1.OCRService's calls went through an object of the other service's settings
// (or, for a retuned value, kept its object with the other service's size), and a build of
// the next first call put one of theirs back.
//
// A configured service without a registered descriptor whose policy gives the object other
// settings is refused at the Reload instead (TestConfiguredServiceWhoseFirstCallsWouldClashIsRefused).
func TestFirstCallBuildGivingNamedObjectOtherSettingsIsRefused(t *testing.T) {
	// p gives the pool 3, r and default the size given. OCRService's chains are built at New
	// (its descriptor is registered) and hold the pool of size 3; acme.v1.Other has no
	// registered descriptor, and its methods (whose policy has a part per method, the pool,
	// named otherwise than after the service) get chains of their own on their first calls,
	// or, past the bound, the service's overflow chain. Without def, services outside the
	// configuration have no policies.
	parse := func(t *testing.T, size int, other string, def bool) *config.Config {
		t.Helper()
		cfg, _, err := config.Parse("pool.yaml", fmt.Appendf(nil, `
profiles:
  p:
    pool: {size: 3}
  r:
    pool: {size: %d}
  default:
    pool: {size: %d}
services:
  kyc.v1.OCRService:
    profile: p
  acme.v1.Other:
    profile: %s
`, size, size, other))
		if err != nil {
			t.Fatal(err)
		}
		if !def {
			delete(cfg.Profiles, config.DefaultProfile)
		}
		return cfg
	}
	for _, tc := range []struct {
		name           string
		size           int // r's and default's pool size
		other          string
		def            bool
		opts           []interceptors.Option
		method, chain  string // the method called, and the chain its first call builds
		wantSameObject bool   // size 3: the call shares the object of the chains in force
	}{
		{name: "a method of a service outside the configuration", size: 4, other: "p", def: true,
			method: "/acme.v1.Outside/Do", chain: "/acme.v1.Outside/Do"},
		{name: "the suite's overflow chain", size: 4, other: "p", def: true, opts: []interceptors.Option{interceptors.WithUnlistedLimit(0)},
			method: "/acme.v1.Outside/Do", chain: "/*/*"},
		{name: "a method with the same settings", size: 3, other: "r",
			method: "/acme.v1.Other/Do", chain: "/acme.v1.Other/Do", wantSameObject: true},
		{name: "an overflow chain with the same settings", size: 3, other: "p", def: true, opts: []interceptors.Option{interceptors.WithUnlistedLimit(0)},
			method: "/acme.v1.Outside/Do", chain: "/*/*", wantSameObject: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := poolBuilds.Load()
			s := newClocked(t, parse(t, tc.size, tc.other, tc.def), tc.opts...)
			if built := poolBuilds.Load() - before; built != 1 {
				t.Fatalf("New built %d pool objects, want 1", built)
			}
			ok := &testkit.CountingInvoker{}
			unary := s.Unary()
			for i := range 2 {
				err := unary(context.Background(), tc.method, nil, nil, nil, ok.Invoke)
				if got := interceptors.ChainMethod(s, tc.method); got != tc.chain {
					t.Fatalf("%s is served by the chain of %q, want %q", tc.method, got, tc.chain)
				}
				if tc.wantSameObject {
					if err != nil {
						t.Fatalf("call %d of %s, which gives the pool the settings the chains in force gave it: %v", i+1, tc.method, err)
					}
					continue
				}
				if status.Code(err) != grpccodes.FailedPrecondition {
					t.Fatalf("call %d of %s: %v (reached the server %d times); want FailedPrecondition, the object given two settings",
						i+1, tc.method, err, ok.Count(tc.method))
				}
				for _, want := range []string{tc.chain + `: pool: the object "pool" is also taken by /kyc.v1.OCRService/`, "another value"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("call %d of %s: %v; want it to say %q", i+1, tc.method, err, want)
					}
				}
			}
			// The chains in force keep their object: nothing built another in its place.
			if built := poolBuilds.Load() - before; built != 1 {
				t.Errorf("after the first calls: %d pool objects built, want 1", built)
			}
			if err := unary(context.Background(), "/kyc.v1.OCRService/Extract", nil, nil, nil, ok.Invoke); err != nil {
				t.Errorf("a call of the chains in force: %v", err)
			}
		})
	}
}

// A default profile that gives the pool another size does not make the suite forget the pool
// object the configured services' chains hold: the suite read the object's name, "pool", as a
// service's, outside the configuration, whose policy (the default profile's) gives it another
// fingerprint, and so dropped it at every reload (New's included) while the chains went on
// using it: Levels never read it, each reload reported it retired and built it afresh,
// losing its state.
func TestCustomNamedObjectIsKeptWhenTheDefaultProfileGivesItOtherSettings(t *testing.T) {
	cfg, _, err := config.Parse("pool.yaml", []byte(`
profiles:
  p:
    pool: {size: 3}
  default:
    pool: {size: 4}
services:
  kyc.v1.OCRService:
    profile: p
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := &poolRetired{}
	before := poolBuilds.Load()
	s := newClocked(t, cfg, interceptors.WithObserver(rec))
	first := fmt.Sprint(before + 1)
	if got := poolLevels(s); len(got) != 1 || got[0] != first {
		t.Fatalf("after New: pool levels %v, want the one pool object %s", got, first)
	}
	for i := range 2 {
		if err := s.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		if got, built, retired := poolLevels(s), poolBuilds.Load()-before, rec.n.Load(); len(got) != 1 || got[0] != first || built != 1 || retired != 0 {
			t.Fatalf("after unchanged reload %d: pool levels %v, %d built, %d retired; want %s kept, 1 built, none retired", i+1, got, built, retired, first)
		}
	}
}
