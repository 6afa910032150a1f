package interceptors_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/section"
)

// The follower section captures the retry step's: its Deps hands over the step itself, as
// env.Earlier holds it, a section.Built of funcs, which no fingerprint can compare.
type followerConfig struct {
	On bool `yaml:"on"`
}

func init() {
	section.Register(section.Spec[followerConfig]{
		Key:      "follower",
		Rank:     section.RankRetry + 30,
		Captures: []section.Key{"retry"},
		Deps:     func(env *section.Env, _ followerConfig) []any { return []any{env.Earlier["retry"]} },
		Build: func(*section.Env, followerConfig) (section.Built, error) {
			return section.Built{}, nil
		},
	})
}

// A Deps value that cannot be compared is refused as the section's error, naming the section
// and the value's type: comparing it with the fingerprint of the object cached under its name
// panicked with the runtime's "comparing uncomparable type section.Built" from inside the
// suite's build.
func TestUncomparableDepsAreRefusedByName(t *testing.T) {
	cfg, _, err := config.Parse("follower.yaml", []byte(`
profiles:
  p:
    retry: {max_attempts: 2}
    follower: {on: true}
services:
  kyc.v1.OCRService:
    profile: p
`))
	if err != nil {
		t.Fatal(err)
	}
	err = newThenReload(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "follower: its Deps returned") || !strings.Contains(err.Error(), "section.Built") {
		t.Fatalf("New: %v, want an error naming follower's Deps and the type section.Built", err)
	}
}

// The holder section's Deps hands over a struct of a comparable type that holds a func in an
// interface field: its type says it can be compared, but == panics on it at run time.
type holderConfig struct {
	On bool `yaml:"on"`
}

type funcHolder struct{ f any }

func init() {
	section.Register(section.Spec[holderConfig]{
		Key:  "holder",
		Rank: section.RankRetry + 35,
		Deps: func(*section.Env, holderConfig) []any { return []any{funcHolder{f: func() {}}} },
		Build: func(*section.Env, holderConfig) (section.Built, error) {
			return section.Built{}, nil
		},
	})
}

// A Deps value of a comparable type that holds a func in an interface field is refused as
// the section's error, as an uncomparable type is: the suite compared it with == against the
// fingerprint of the object cached under its name, which panicked in the runtime ("comparing
// uncomparable type func()") from inside the suite's Reload.
func TestDepsHoldingAFuncAreRefusedByName(t *testing.T) {
	cfg, _, err := config.Parse("holder.yaml", []byte(`
profiles:
  p:
    holder: {on: true}
services:
  kyc.v1.OCRService:
    profile: p
`))
	if err != nil {
		t.Fatal(err)
	}
	err = newThenReload(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "holder: its Deps returned") || !strings.Contains(err.Error(), "interceptors_test.funcHolder") {
		t.Fatalf("New: %v, want an error naming holder's Deps and the type interceptors_test.funcHolder", err)
	}
}

// newThenReload builds a suite of cfg and, when New takes it, reloads it unchanged, failing t
// on a panic of either; it returns the error of the one that refused cfg (nil: neither did).
func newThenReload(t *testing.T, cfg *config.Config) error {
	t.Helper()
	var s *interceptors.Suite
	var err error
	if r := recovered(func() { s, err = interceptors.New(cfg) }); r != nil {
		t.Fatalf("New panicked: %v", r)
	}
	if s == nil {
		return err
	}
	defer s.Close()
	if r := recovered(func() { err = s.Reload(cfg) }); r != nil {
		t.Fatalf("New took the section; an unchanged Reload panicked: %v", r)
	}
	return err
}
