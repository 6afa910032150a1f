package config_test

import (
	"strings"
	"testing"
)

// TestQuoteItOnlyWhereQuotingHelps: a number or boolean in a plain string field was refused
// with "is not a string (quote it)" even where the quoted text is refused too: a code by its
// number in fallback.on_codes (as a gRPC service config writes one), a Redis address, a
// profile name that does not exist. Quoting only led to a second error; the field's own rule
// is the error there. Where the quoted text would do (a shared bucket's name), the hint stays.
func TestQuoteItOnlyWhereQuotingHelps(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    fallback: {on_codes: [14]}\n":                      `t.yaml:3: profiles.p.fallback.on_codes[0]: "14" is a code's number: write its name, UNAVAILABLE`,
		"profiles:\n  p:\n    fallback: {on_codes: [UNAVAILABLE, true]}\n":       `t.yaml:3: profiles.p.fallback.on_codes[1]: "true" is not a gRPC code name (such as UNAVAILABLE)`,
		"services:\n  kyc.v1.OCRService:\n    fallback: {on_codes: [4]}\n":       `t.yaml:3: services."kyc.v1.OCRService".fallback.on_codes[0]: "4" is a code's number: write its name, DEADLINE_EXCEEDED`,
		"profiles:\n  p:\n    rate_limit: {rate: 5, redis: {addr: 6379}}\n":      `t.yaml:3: profiles.p.rate_limit.redis.addr: "6379" is not host:port`,
		"services:\n  kyc.v1.OCRService: {profile: 7}\n":                         `t.yaml:2: services."kyc.v1.OCRService".profile: "7" is not a profile (profiles: fast, ml, ocr)`,
		"profiles:\n  p:\n    rate_limit: {rate: 5, shared: 12}\n":               `t.yaml:3: profiles.p.rate_limit.shared: 12 is not a string (quote it)`,
		"profiles:\n  \"7\": {}\nservices:\n  kyc.v1.OCRService: {profile: 7}\n": `t.yaml:4: services."kyc.v1.OCRService".profile: 7 is not a string (quote it)`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}
}
