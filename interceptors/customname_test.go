package interceptors_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// The pool section names its one object "pool" whatever the chain (Spec.Name): every chain
// that has it on shares it, whichever service it serves.

type poolConfig struct {
	Size int `yaml:"size"`
}

var poolBuilds atomic.Int32 // numbers the pool objects built

type poolObj struct{ id int32 }

func (p *poolObj) Levels(yield func(observe.Level) bool) {
	yield(observe.Level{Kind: observe.LevelCapacity, Policy: "pool", Service: "pool", State: fmt.Sprint(p.id)})
}
func (p *poolObj) Unary() grpc.UnaryClientInterceptor   { return nil }
func (p *poolObj) Stream() grpc.StreamClientInterceptor { return nil }

func init() {
	section.Register(section.Spec[poolConfig]{
		Key:  "pool",
		Rank: section.RankBulkhead + 50,
		Name: func(poolConfig, string, string, bool) string { return "pool" },
		Build: func(*section.Env, poolConfig) (section.Built, error) {
			return section.Step(&poolObj{id: poolBuilds.Add(1)}, nil)
		},
	})
}

// poolRetired counts the Retired events of pool objects.
type poolRetired struct{ n atomic.Int32 }

func (r *poolRetired) Observe(e observe.Event) {
	if e.Kind == observe.Retired && e.Policy == "pool" {
		r.n.Add(1)
	}
}

func poolLevels(s *interceptors.Suite) []string {
	var out []string
	for l := range s.Levels {
		if l.Policy == "pool" {
			out = append(out, l.State)
		}
	}
	return out
}

// An object a section names otherwise than after a service or a full method is kept across
// reloads while its fingerprint holds, as Spec.Name says, and Levels reads it. The suite
// judged whether a configuration could still use an object from its name alone, read as a
// service's: it forgot "pool" at every reload (New's included), so every reload built it
// afresh, losing its state, Levels never read it and each reload reported it retired.
func TestCustomNamedObjectIsKeptAcrossReloads(t *testing.T) {
	parse := func(size int) *config.Config {
		t.Helper()
		cfg, _, err := config.Parse("pool.yaml", fmt.Appendf(nil, `
profiles:
  p:
    pool: {size: %d}
services:
  kyc.v1.OCRService:
    profile: p
  kyc.v1.LivenessService:
    profile: p
`, size))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	rec := &poolRetired{}
	before := poolBuilds.Load()
	s, err := interceptors.New(parse(3), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := fmt.Sprint(before + 1)
	if got := poolLevels(s); len(got) != 1 || got[0] != first {
		t.Fatalf("after New: pool levels %v, want the one pool object %s", got, first)
	}
	for i := range 2 {
		if err := s.Reload(parse(3)); err != nil {
			t.Fatal(err)
		}
		if got, built, retired := poolLevels(s), poolBuilds.Load()-before, rec.n.Load(); len(got) != 1 || got[0] != first || built != 1 || retired != 0 {
			t.Fatalf("after unchanged reload %d: pool levels %v, %d built, %d retired; want %s kept, 1 built, none retired", i+1, got, built, retired, first)
		}
	}
	// A changed value replaces it.
	if err := s.Reload(parse(4)); err != nil {
		t.Fatal(err)
	}
	second := fmt.Sprint(before + 2)
	if got, retired := poolLevels(s), rec.n.Load(); len(got) != 1 || got[0] != second || retired != 1 {
		t.Fatalf("after a change: pool levels %v, %d retired; want %s alone, the old one retired", got, retired, second)
	}
	// Off everywhere, it is forgotten.
	cfg := parse(4)
	delete(cfg.Profiles["p"].Sections, "pool")
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got, retired := poolLevels(s), rec.n.Load(); len(got) != 0 || retired != 2 {
		t.Fatalf("with pool off: pool levels %v, %d retired; want none read, 2 retired", got, retired)
	}
}

// Two services that give the one object a section names "pool" different settings ask for
// one object with two settings: the configuration is refused, naming the object, the chain
// that took it first and what differs. The suite took it: each chain's build replaced the
// object the chain before it had built, so that the two services used two objects under one
// name, and every reload, also one that changed nothing, built both afresh, losing their state.
func TestCustomNamedObjectWithTwoSettingsIsRefused(t *testing.T) {
	cfg, _, err := config.Parse("pool.yaml", []byte(`
profiles:
  p:
    pool: {size: 3}
services:
  kyc.v1.OCRService:
    profile: p
  kyc.v1.LivenessService:
    profile: p
    pool: {size: 4}
`))
	if err != nil {
		t.Fatal(err)
	}
	before := poolBuilds.Load()
	s, err := interceptors.New(cfg)
	if err == nil {
		defer s.Close()
		for range 2 {
			if err := s.Reload(cfg); err != nil {
				t.Fatal(err)
			}
		}
		t.Fatalf("New and two unchanged reloads took the configuration (%d pool objects built); want it refused, naming the object and the other service",
			poolBuilds.Load()-before)
	}
	for _, want := range []string{`pool: the object "pool"`, "kyc.v1.LivenessService", "kyc.v1.OCRService", "another value"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v; want it to say %q", err, want)
		}
	}
	if built := poolBuilds.Load() - before; built > 2 {
		t.Errorf("the refused configuration built %d pool objects", built)
	}
}
