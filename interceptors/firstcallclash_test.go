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

// A configured service without a registered descriptor has all its calls go through chains
// built on a first call, under its service's policy. Where that policy gives the object the
// pool section names "pool" (see customname_test.go) other settings than the chains built at
// the Reload give it, or than another such service's policy gives it, those first calls will
// be refused (FailedPrecondition: the object is given two settings) whatever the calls: the
// configuration is refused at New and at a Reload instead, naming the object, the two chains
// and what differs, as a configuration whose chains built at the Reload clash is. Before, it
// loaded, and every call of the service failed.
func TestConfiguredServiceWhoseFirstCallsWouldClashIsRefused(t *testing.T) {
	var parseDef func(t *testing.T, ocr, one, two, def int) *config.Config
	// kyc.v1.OCRService's descriptor is registered: its chains are built at the Reload.
	// acme.v1.One and acme.v1.Two have none.
	parse := func(t *testing.T, ocr, one, two int) *config.Config {
		t.Helper()
		return parseDef(t, ocr, one, two, 0)
	}
	// def, when not 0, is the pool's size in the default profile, of the services outside the
	// configuration.
	parseDef = func(t *testing.T, ocr, one, two, def int) *config.Config {
		t.Helper()
		cfg, _, err := config.Parse("pool.yaml", fmt.Appendf(nil, `
profiles:
  ocr:
    pool: {size: %d}
  one:
    pool: {size: %d}
  two:
    pool: {size: %d}
services:
  kyc.v1.OCRService:
    profile: ocr
  acme.v1.One:
    profile: one
  acme.v1.Two:
    profile: two
`, ocr, one, two))
		if err != nil {
			t.Fatal(err)
		}
		if def != 0 {
			d, _, err := config.Parse("pool.yaml", fmt.Appendf(nil, "profiles:\n  default:\n    pool: {size: %d}\n", def))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Profiles[config.DefaultProfile] = d.Profiles[config.DefaultProfile]
		}
		return cfg
	}
	for _, tc := range []struct {
		name          string
		ocr, one, two int
		opts          []interceptors.Option
		want          []string
	}{
		{name: "against a chain built at the reload", ocr: 3, one: 4, two: 3,
			want: []string{`/acme.v1.One/*`, `pool: the object "pool" is also taken by /kyc.v1.OCRService/`, "another value"}},
		{name: "against a chain built at the reload, past the bound", ocr: 3, one: 3, two: 4,
			opts: []interceptors.Option{interceptors.WithUnlistedLimit(0)},
			want: []string{`/acme.v1.Two/*`, `pool: the object "pool" is also taken by /kyc.v1.OCRService/`, "another value"}},
		{name: "between two services built on a first call", ocr: 3, one: 4, two: 5,
			want: []string{`/acme.v1.Two/*`, `pool: the object "pool" is also taken by /acme.v1.One/*`, "another value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The case without the pool on for OCRService: one and two alone.
			cfg := parse(t, tc.ocr, tc.one, tc.two)
			if tc.name == "between two services built on a first call" {
				delete(cfg.Profiles["ocr"].Sections, "pool")
			}
			before := poolBuilds.Load()
			s, err := interceptors.New(cfg, tc.opts...)
			if err == nil {
				defer s.Close()
				ok := &testkit.CountingInvoker{}
				var errs []string
				for _, m := range []string{"/acme.v1.One/Do", "/acme.v1.Two/Do"} {
					if err := s.Unary()(context.Background(), m, nil, nil, nil, ok.Invoke); err != nil {
						errs = append(errs, err.Error())
					}
				}
				t.Fatalf("New took the configuration; its first calls failed with %q; want New refused, saying %q", errs, tc.want)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New: %v; want it to say %q", err, want)
				}
			}
			if built := poolBuilds.Load() - before; built != 0 {
				t.Errorf("the refused configuration built %d pool objects, want none", built)
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		s := newClocked(t, parse(t, 3, 3, 3))
		err := s.Reload(parse(t, 3, 4, 3))
		if err == nil || !strings.HasPrefix(err.Error(), "/acme.v1.One/* (the chain of the service's calls, built on a first call") ||
			!strings.Contains(err.Error(), `: pool: the object "pool" is also taken by /kyc.v1.OCRService/`) || !strings.Contains(err.Error(), "another value") {
			t.Fatalf("a reload that gives acme.v1.One's pool size 4: %v; want it refused, naming the object, both chains and what differs", err)
		}
		ok := &testkit.CountingInvoker{}
		for _, m := range []string{"/acme.v1.One/Do", "/kyc.v1.OCRService/Extract"} {
			if err := s.Unary()(context.Background(), m, nil, nil, nil, ok.Invoke); err != nil {
				t.Errorf("a call of %s after the refused reload: %v", m, err)
			}
		}
	})

	t.Run("a service that lists its methods", func(t *testing.T) {
		// acme.v1.One's own policy gives the pool size 4 against OCRService's 3, but its one
		// method listed, Do, has the ocr profile: its calls may all be Do's, which share the
		// pool as configured. The configuration loads (it did before the check came), Do is
		// served, and a method it does not list is refused at its first call, as before.
		cfg := parse(t, 3, 4, 3)
		one := cfg.Services["acme.v1.One"]
		one.Methods = map[string]config.Method{"Do": {Profile: "ocr"}}
		cfg.Services["acme.v1.One"] = one
		s := newClocked(t, cfg)
		ok := &testkit.CountingInvoker{}
		for _, m := range []string{"/acme.v1.One/Do", "/acme.v1.Two/Do", "/kyc.v1.OCRService/Extract"} {
			if err := s.Unary()(context.Background(), m, nil, nil, nil, ok.Invoke); err != nil {
				t.Errorf("a call of %s: %v", m, err)
			}
		}
		if err := s.Unary()(context.Background(), "/acme.v1.One/Other", nil, nil, nil, ok.Invoke); status.Code(err) != grpccodes.FailedPrecondition ||
			!strings.Contains(err.Error(), `the object "pool" is also taken by`) {
			t.Errorf("a call of a method acme.v1.One does not list, under its policy's pool of size 4: %v; want FailedPrecondition naming the object", err)
		}
	})

	t.Run("same settings", func(t *testing.T) {
		// One object of one setting for every configured service's chains, and a default
		// profile that gives it another: services outside the configuration may never be
		// called, and such a call alone is refused.
		s := newClocked(t, parseDef(t, 3, 3, 3, 5))
		ok := &testkit.CountingInvoker{}
		for _, m := range []string{"/acme.v1.One/Do", "/acme.v1.Two/Do", "/kyc.v1.OCRService/Extract"} {
			if err := s.Unary()(context.Background(), m, nil, nil, nil, ok.Invoke); err != nil {
				t.Errorf("a call of %s: %v", m, err)
			}
		}
		if err := s.Unary()(context.Background(), "/acme.v1.Outside/Do", nil, nil, nil, ok.Invoke); status.Code(err) != grpccodes.FailedPrecondition ||
			!strings.Contains(err.Error(), `the object "pool" is also taken by`) {
			t.Errorf("a call of a service outside the configuration, whose default profile gives the pool size 5: %v; want FailedPrecondition naming the object", err)
		}
	})
}
