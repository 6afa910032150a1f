package interceptors_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// A configuration a build refuses is named once: the chain, the section, the reason. The
// fallback's reason started with "fallback:" after the suite's "fallback:", and the missing
// factory's carried a second chain name ("interceptors: kyc.v1.OCRService:"). A field the
// build or its check refuses is named by its path in the file, with the file and line, as
// Parse names the fields it refuses (the missing factory's named neither).
func TestBuildErrorsNameTheSectionOnce(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"fallback reply that does not fit", `
profiles:
  p: {}
services:
  kyc.v1.OCRService:
    profile: p
    methods:
      Extract: {fallback: {reply_json: '{"nope": 1}'}}
`, "/kyc.v1.OCRService/Extract: bulwark.yaml:8: services.\"kyc.v1.OCRService\".methods.Extract.fallback.reply_json: \"{\\\"nope\\\": 1}\" does not fit kyc.v1.ExtractResponse"},
		{"redis without a factory", `
profiles:
  p:
    rate_limit: {rate: 10, burst: 5, redis: {addr: "localhost:6379"}}
services:
  kyc.v1.OCRService: {profile: p}
`, `/kyc.v1.OCRService/Extract: bulwark.yaml:4: profiles.p.rate_limit.redis: {addr: "localhost:6379"} needs a remote limiter factory: pass interceptors.WithRemoteLimiter(redislimit.Factory(nil)) to New`},
		{"redis without a factory, on a service", `
services:
  kyc.v1.OCRService:
    profile: fast
    rate_limit: {rate: 10, burst: 5, redis: {addr: "localhost:6379"}}
`, `/kyc.v1.OCRService/Extract: bulwark.yaml:5: services."kyc.v1.OCRService".rate_limit.redis: {addr: "localhost:6379"} needs a remote limiter factory: pass interceptors.WithRemoteLimiter(redislimit.Factory(nil)) to New`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := config.Parse("bulwark.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			_, err = interceptors.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// A configuration built in code has no file: the missing factory's field is named by its path
// in the configuration alone.
func TestBuildErrorNamesTheFieldOfACodeBuiltConfig(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {RateLimit: &ratelimit.Config{Rate: 10, Burst: 5, Redis: &ratelimit.RedisConfig{Addr: "localhost:6379"}}}},
		Services: map[string]config.Service{"kyc.v1.OCRService": {Profile: "p"}},
	}
	_, err := interceptors.New(cfg)
	const want = `/kyc.v1.OCRService/Extract: profiles.p.rate_limit.redis: {addr: "localhost:6379"} needs a remote limiter factory: pass interceptors.WithRemoteLimiter(redislimit.Factory(nil)) to New`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New = %v, want an error with %q", err, want)
	}
}
