package interceptors_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
)

// Regression: a reply_json that does not fit its method named the method and the response
// type but not where the configuration writes it, which a profile shared by many services
// leaves to guess. The error now names the path of the layer the method takes the value from
// (the method's entry, its service's, or its profile), the value and the rule, with the file
// and line when the configuration was parsed, as config's own errors do.
func TestFallbackReplyJSONErrorNamesItsPath(t *testing.T) {
	const extract, rule = "/kyc.v1.OCRService/Extract", ` does not fit kyc.v1.ExtractResponse, the response type of /kyc.v1.OCRService/Extract: `
	for _, tt := range []struct{ name, yaml, want string }{
		{"the method's entry", `
profiles:
  p: {fallback: {reply_json: '{}'}}
services:
  kyc.v1.OCRService:
    profile: p
    fallback: {reply_json: '{"confidence": 0.5}'}
    methods:
      Extract: {fallback: {reply_json: '{"nope": 1}'}}
`, `bulwark.yaml:9: services."kyc.v1.OCRService".methods.Extract.fallback.reply_json: "{\"nope\": 1}"` + rule},
		{"the service's entry", `
profiles:
  p: {fallback: {reply_json: '{}'}}
services:
  kyc.v1.OCRService:
    profile: p
    fallback: {reply_json: '{"nope": 1}'}
    methods:
      Extract: {fallback: {on_codes: [UNAVAILABLE]}}
`, `bulwark.yaml:7: services."kyc.v1.OCRService".fallback.reply_json: "{\"nope\": 1}"` + rule},
		{"the profile", `
profiles:
  p: {fallback: {reply_json: '{"nope": 1}'}}
  q: {}
services:
  kyc.v1.OCRService:
    profile: q
    fallback: {on_codes: [UNAVAILABLE]}
    methods:
      Extract: {profile: p}
`, `bulwark.yaml:3: profiles.p.fallback.reply_json: "{\"nope\": 1}"` + rule},
		{"a block scalar, on one line", `
profiles:
  p:
    fallback:
      reply_json: |
        {"nope": 1,
         "confidence": 0.5}
services:
  kyc.v1.OCRService: {profile: p}
`, `bulwark.yaml:5: profiles.p.fallback.reply_json: "{\"nope\":1,\"confidence\":0.5}"` + rule},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := config.Parse("bulwark.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			s, err := interceptors.New(cfg)
			if s != nil {
				_ = s.Close()
			}
			if want := extract + ": " + tt.want; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("New = %v, want an error with %q", err, want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Path == "" || ce.Rule == "" {
				t.Fatalf("New = %v: no *config.Error with a path and a rule", err)
			}
		})
	}
	// A configuration made in code has no file: the path alone.
	cfg := &config.Config{Budget: 5 * time.Second, Profiles: map[string]config.Profile{"p": {}},
		Services: map[string]config.Service{"kyc.v1.OCRService": {Profile: "p", Methods: map[string]config.Method{
			"Extract": {Overrides: config.Overrides{Fallback: config.Set(fallback.Config{ReplyJSON: `{"nope": 1}`}, "reply_json")}}}}}}
	_, err := interceptors.New(cfg)
	if want := extract + `: services."kyc.v1.OCRService".methods.Extract.fallback.reply_json: "{\"nope\": 1}"` + rule; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New = %v, want an error with %q", err, want)
	}
}
