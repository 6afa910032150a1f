package interceptors_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
)

// A configuration a build refuses is named once: the chain, the section, the reason. The
// fallback's reason started with "fallback:" after the suite's "fallback:", and the missing
// factory's carried a second chain name ("interceptors: kyc.v1.OCRService:").
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
`, "/kyc.v1.OCRService/Extract: rate_limit.redis needs a remote limiter factory: pass interceptors.WithRemoteLimiter(redislimit.Factory(nil)) to New"},
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
