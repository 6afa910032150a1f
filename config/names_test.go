package config_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

var kycNames = config.KnownNames{
	"kyc.v1.OCRService":       {"Extract"},
	"kyc.v1.LivenessService":  {"Check"},
	"kyc.v1.FaceMatchService": {"Compare"},
}

func TestCheckNames(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		external []string
		known    config.KnownNames // nil: kycNames
		want     []string          // substrings of the errors, in order; none: no error
	}{
		{"builtins", ``, nil, nil, nil},
		{"service typo", `
services:
  kyc.v1.OCRServce: {profile: fast}
`, nil, nil, []string{`c.yaml:3: services."kyc.v1.OCRServce": "kyc.v1.OCRServce" is not a service this program knows (did you mean "kyc.v1.OCRService"?)`}},
		{"method typo", `
services:
  kyc.v1.OCRService:
    methods:
      Chek: {retry: {max_attempts: 2}}
`, nil, nil, []string{`c.yaml:5: services."kyc.v1.OCRService".methods.Chek: "Chek" is not a method of kyc.v1.OCRService (methods: Extract)`}},
		{"method typo near", `
services:
  kyc.v1.LivenessService:
    methods:
      Chek: {retry: {max_attempts: 2}}
`, nil, nil, []string{`(did you mean "Check"?)`}},
		// A typo of one letter in a name of two is still one edit: the doc promises at least
		// one, where a third of the length, rounded down, allowed none.
		{"short method typo", `
services:
  kyc.v1.OCRService:
    methods:
      Du: {retry: {max_attempts: 2}}
`, []string{"kyc.v1.LivenessService", "kyc.v1.FaceMatchService"}, config.KnownNames{"kyc.v1.OCRService": {"Do", "Extract"}}, []string{`"Du" is not a method of kyc.v1.OCRService (did you mean "Do"?)`}},
		{"far name has no suggestion", `
services:
  acme.Billing: {profile: fast}
`, nil, nil, []string{`c.yaml:3: services."acme.Billing": "acme.Billing" is not a service this program knows; a service it reaches`}},
		{"external service accepted", `
services:
  acme.Billing: {profile: fast, methods: {Charge: {profile: fast}}}
`, []string{"acme.Billing"}, nil, nil},
		// A built-in binding the program does not link is located in builtin.yaml.
		{"built-in binding", `
services:
  kyc.v1.OCRService: {profile: fast}
`, []string{"kyc.v1.FaceMatchService"}, config.KnownNames{"kyc.v1.OCRService": {"Extract"}},
			[]string{"builtin.yaml:" + builtinLine("  kyc.v1.LivenessService:") + `: services."kyc.v1.LivenessService": "kyc.v1.LivenessService" is not a service`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := config.Parse("c.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			known := tt.known
			if known == nil {
				known = kycNames
			}
			err = cfg.CheckNames("c.yaml", known, tt.external)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			errs := fielderr.Flatten(err)
			if len(errs) != len(tt.want) {
				t.Fatalf("%d errors, want %d: %v", len(errs), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d:\n%s\nlacks\n%s", i, errs[i], w)
				}
			}
		})
	}
}

// CheckNames errors carry the line of the name, as the other errors of a parsed
// configuration do (before, they had none); a copy keeps them, and a configuration built in
// Go, with no file, has no line.
func TestCheckNamesLines(t *testing.T) {
	cfg, _, err := config.Parse("c.yaml", []byte("budget: 5s\nservices:\n  kyc.v1.OCRService:\n    methods:\n      Extract: {}\n      Chek: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*config.Config{cfg, cfg.Clone()} {
		var e *config.Error
		if err := c.CheckNames("c.yaml", kycNames, nil); !errors.As(err, &e) || e.Line != 6 || e.File != "c.yaml" {
			t.Errorf("CheckNames = %v (%+v), want an *Error at c.yaml line 6", err, e)
		}
	}
	built := &config.Config{Services: map[string]config.Service{"kyc.v1.OCRServce": {}}}
	var e *config.Error
	if err := built.CheckNames("c.yaml", kycNames, nil); !errors.As(err, &e) || e.Line != 0 ||
		!strings.HasPrefix(err.Error(), `c.yaml: services."kyc.v1.OCRServce": "kyc.v1.OCRServce" is not a service`) {
		t.Errorf("CheckNames of a built config = %v", err)
	}
}

// builtinLine is the number of builtin.yaml's line that starts with prefix, as a string.
func builtinLine(prefix string) string {
	for i, l := range strings.Split(string(config.BuiltinYAML()), "\n") {
		if strings.HasPrefix(l, prefix) {
			return strconv.Itoa(i + 1)
		}
	}
	return "none"
}

// A long unknown name gets no "did you mean" either: a name longer than the edit distance
// measures (64 bytes) was at a distance of 99, which a third of a 297-byte name accepts, so
// any such name was offered the first known service.
func TestCheckNamesLongNameNoSuggestion(t *testing.T) {
	long := "acme." + strings.Repeat("Z", 300)
	cfg, _, err := config.Parse("c.yaml", []byte("services:\n  "+long+": {profile: fast}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckNames("c.yaml", kycNames, nil)
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("CheckNames(%d-byte name) = %v, want an unknown service without a suggestion", len(long), err)
	}
}
