package section_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/section"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// toyConfig is a policy section that lives only in this test: registering it must be enough
// for configuration files to carry it, with no edit to package config.
type toyConfig struct {
	Limit int    `yaml:"limit"`
	Mode  string `yaml:"mode"`
	Inner struct {
		Depth int `yaml:"depth"`
	} `yaml:"inner"`
}

func init() {
	section.Register(section.Spec[toyConfig]{
		Key:  "toy",
		Rank: section.RankRateLimit + 50,
		Normalize: func(c toyConfig) toyConfig {
			if c.Limit == 0 {
				c.Limit = 5
			}
			if c.Mode == "" {
				c.Mode = "slow"
			}
			return c
		},
		Validate: func(c toyConfig) error {
			var v fielderr.Checker
			v.Check(c.Limit <= 100, "limit", c.Limit, "is above 100")
			v.Check(c.Inner.Depth >= 0, "inner.depth", c.Inner.Depth, "is negative")
			return v.Err()
		},
		Zero: map[string]string{"limit": "is below 1 (leave it out for 5)"},
		Explain: func(c toyConfig) string {
			return "limit " + strconv.Itoa(c.Limit) + ", " + c.Mode
		},
	})
}

const toyYAML = `
profiles:
  toyish:
    toy: {limit: 2, mode: fast, inner: {depth: 1}}
services:
  kyc.v1.OCRService:
    profile: toyish
    methods:
      Extract:
        toy: {limit: 3}
      Classify:
        toy: off
  kyc.v1.FaceService:
    profile: toyish
    toy: {inner: {depth: 4}}
`

func toy(t *testing.T, p config.Policy) *toyConfig {
	t.Helper()
	v, ok := p.Sections["toy"]
	if !ok {
		return nil
	}
	c, ok := v.(*toyConfig)
	if !ok {
		t.Fatalf("Sections[toy] is %T, want *toyConfig", v)
	}
	return c
}

func TestToySectionDecodesAndOverrides(t *testing.T) {
	cfg, _, err := config.Parse("toy.yaml", []byte(toyYAML))
	if err != nil {
		t.Fatal(err)
	}
	svc := toy(t, cfg.ResolveService("kyc.v1.OCRService"))
	if svc == nil || svc.Limit != 2 || svc.Mode != "fast" || svc.Inner.Depth != 1 {
		t.Fatalf("service toy = %+v, want limit 2, fast, depth 1", svc)
	}
	m := toy(t, cfg.Resolve("/kyc.v1.OCRService/Extract"))
	if m == nil || m.Limit != 3 || m.Mode != "fast" || m.Inner.Depth != 1 {
		t.Fatalf("method toy = %+v, want limit 3 (overridden), fast and depth 1 (the profile's)", m)
	}
	if off := toy(t, cfg.Resolve("/kyc.v1.OCRService/Classify")); off != nil {
		t.Fatalf("toy: off left %+v", off)
	}
	face := toy(t, cfg.ResolveService("kyc.v1.FaceService"))
	if face == nil || face.Limit != 2 || face.Inner.Depth != 4 {
		t.Fatalf("nested override = %+v, want limit 2, depth 4", face)
	}
	// Defaults come from the section's Normalize; no toy section means off.
	cfg2, _, err := config.Parse("toy.yaml", []byte("profiles:\n  toyish:\n    toy: {}\nservices:\n  kyc.v1.OCRService:\n    profile: toyish\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := toy(t, cfg2.ResolveService("kyc.v1.OCRService")); d == nil || d.Limit != 5 || d.Mode != "slow" {
		t.Fatalf("defaults = %+v, want limit 5, slow", d)
	}
	if toy(t, cfg2.ResolveService("kyc.v1.FaceService")) != nil {
		t.Fatal("a service without the toy section has it on")
	}
	// Resolving shares nothing with the Config.
	a := cfg.Resolve("/kyc.v1.OCRService/Extract")
	toy(t, a).Limit = 99
	if got := toy(t, cfg.Resolve("/kyc.v1.OCRService/Extract")).Limit; got != 3 {
		t.Fatalf("changing a resolved section changed the Config: limit %d", got)
	}
	b := cfg.Resolve("/kyc.v1.OCRService/Extract")
	c := cfg.Resolve("/kyc.v1.OCRService/Extract")
	if !b.Equal(c) || !b.SameSection(c.Profile, "toy") {
		t.Fatal("two resolutions of one method differ")
	}
	if b.SameSection(cfg.ResolveService("kyc.v1.OCRService").Profile, "toy") {
		t.Fatal("limit 3 and limit 2 compare equal")
	}
	if got := b.Changed(cfg.ResolveService("kyc.v1.OCRService").Profile); len(got) != 1 || got[0] != "toy" {
		t.Fatalf("Changed = %v, want [toy]", got)
	}
}

func TestToySectionErrorsNamePaths(t *testing.T) {
	_, _, err := config.Parse("toy.yaml", []byte(`
profiles:
  a:
    toy: {limit: 0}
  b:
    toy: {limit: 200, limt: 3}
services:
  kyc.v1.OCRService:
    profile: b
    methods:
      Extract:
        toy: {inner: {depth: -1}}
`))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"toy.yaml:4: profiles.a.toy.limit: 0 is below 1 (leave it out for 5)",
		"toy.yaml:6: profiles.b.toy.limit: 200 is above 100",
		`toy.yaml:6: profiles.b.toy: "limt" is not a key of toy; did you mean limit?`,
		`toy.yaml:12: services."kyc.v1.OCRService".methods.Extract.toy.inner.depth: -1 is negative`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error is %T, want *config.Error inside", err)
	}
}

func TestToySectionValidatesProgrammaticOverrides(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Sections: map[section.Key]any{"toy": &toyConfig{Limit: 1}}}},
		Services: map[string]config.Service{"kyc.v1.OCRService": {
			Profile: "p",
			Overrides: config.Overrides{Sections: map[section.Key]*config.Override[any]{
				"toy": {Value: &toyConfig{Limit: 101}, Fields: []string{"limit", "nope"}},
			}},
		}},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`services."kyc.v1.OCRService".toy: "nope" is not a field of toy`,
		`services."kyc.v1.OCRService".toy.limit: 101 is above 100`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestToySectionExplains(t *testing.T) {
	cfg, _, err := config.Parse("toy.yaml", []byte(toyYAML))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := config.Explain(&b, cfg); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{
		"profile toyish\n",
		"  toy ",
		"limit 2, fast",
		"  method Extract (/kyc.v1.OCRService/Extract): profile toyish, overriding toy\n",
		"limit 3, fast",
		"  method Classify (/kyc.v1.OCRService/Classify): profile toyish, overriding toy\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("explain lacks %q:\n%s", w, out)
		}
	}
	// The toy section is listed after the built-ins, before classifier.
	secs := config.Sections()
	if len(secs) < 2 || secs[len(secs)-2] != "toy" || secs[len(secs)-1] != config.SectionClassifier {
		t.Fatalf("Sections() = %v, want toy just before classifier", secs)
	}
}

func TestRegisterRefusesDuplicates(t *testing.T) {
	for name, f := range map[string]func(){
		"key":      func() { section.Register(section.Spec[toyConfig]{Key: "toy", Rank: 1}) },
		"rank":     func() { section.Register(section.Spec[toyConfig]{Key: "toy2", Rank: section.RankRetry}) },
		"reserved": func() { section.Register(section.Spec[toyConfig]{Key: "classifier", Rank: 2}) },
		"type":     func() { section.Register(section.Spec[int]{Key: "num", Rank: 3}) },
		"zero path": func() {
			section.Register(section.Spec[toyConfig]{Key: "toy3", Rank: 4, Zero: map[string]string{"inner.deep": "is below 1"}})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			f()
		}()
	}
	if _, ok := section.Lookup("toy2"); ok {
		t.Fatal("a refused section was registered")
	}
	if _, ok := section.Lookup("toy3"); ok {
		t.Fatal("a refused section was registered")
	}
	all, _ := section.All()
	for i := 1; i < len(all); i++ {
		if all[i-1].Rank() >= all[i].Rank() {
			t.Fatalf("All is not by rank: %v then %v", all[i-1].Key(), all[i].Key())
		}
	}
}
