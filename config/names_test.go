package config_test

import (
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
		want     []string // substrings of the errors, in order; none: no error
	}{
		{"builtins", ``, nil, nil},
		{"service typo", `
services:
  kyc.v1.OCRServce: {profile: fast}
`, nil, []string{`c.yaml: services."kyc.v1.OCRServce": "kyc.v1.OCRServce" is not a service this program knows (did you mean "kyc.v1.OCRService"?)`}},
		{"method typo", `
services:
  kyc.v1.OCRService:
    methods:
      Chek: {retry: {max_attempts: 2}}
`, nil, []string{`services."kyc.v1.OCRService".methods.Chek: "Chek" is not a method of kyc.v1.OCRService (methods: Extract)`}},
		{"method typo near", `
services:
  kyc.v1.LivenessService:
    methods:
      Chek: {retry: {max_attempts: 2}}
`, nil, []string{`(did you mean "Check"?)`}},
		{"far name has no suggestion", `
services:
  acme.Billing: {profile: fast}
`, nil, []string{`"acme.Billing" is not a service this program knows; a service it reaches`}},
		{"external service accepted", `
services:
  acme.Billing: {profile: fast, methods: {Charge: {profile: fast}}}
`, []string{"acme.Billing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := config.Parse("c.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.CheckNames("c.yaml", kycNames, tt.external)
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
