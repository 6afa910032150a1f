package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// An unknown gRPC code name got no "did you mean": a near miss (another case, underscores
// left out or added, a letter or two wrong) now names the code it is near, in the field,
// value, rule style of the other errors; a name near no code keeps the example.
func TestCodeNameDidYouMean(t *testing.T) {
	yml := `profiles:
  p:
    classifier:
      codes: {UNAVAILABEL: business, DeadlineExceeded: transient, NOPE: business}
    fallback:
      on_codes: [deadline_exceed, Unavailable, CANCELED, TIMEOUT]
services:
  kyc.v1.OCRService:
    fallback: {on_codes: [resource-exhausted]}
`
	want := []string{
		`c.yaml:4: profiles.p.classifier.codes: "UNAVAILABEL" is not a gRPC code name (did you mean UNAVAILABLE?)`,
		`c.yaml:4: profiles.p.classifier.codes: "DeadlineExceeded" is not a gRPC code name (did you mean DEADLINE_EXCEEDED?)`,
		`c.yaml:4: profiles.p.classifier.codes: "NOPE" is not a gRPC code name (such as UNAVAILABLE)`,
		`c.yaml:6: profiles.p.fallback.on_codes[0]: "deadline_exceed" is not a gRPC code name (did you mean DEADLINE_EXCEEDED?)`,
		`c.yaml:6: profiles.p.fallback.on_codes[1]: "Unavailable" is not a gRPC code name (did you mean UNAVAILABLE?)`,
		`c.yaml:6: profiles.p.fallback.on_codes[2]: "CANCELED" is not a gRPC code name (did you mean CANCELLED?)`,
		`c.yaml:6: profiles.p.fallback.on_codes[3]: "TIMEOUT" is not a gRPC code name (such as UNAVAILABLE)`,
		`c.yaml:9: services."kyc.v1.OCRService".fallback.on_codes[0]: "resource-exhausted" is not a gRPC code name (did you mean RESOURCE_EXHAUSTED?)`,
	}
	_, _, err := config.Parse("c.yaml", []byte(yml))
	errs := fielderr.Flatten(err)
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if got := errs[i].Error(); got != w {
			t.Errorf("error %d:\n got %s\nwant %s", i, got, w)
		}
	}

	// Config.Validate, for a configuration built in Go, says the same.
	cfg := &config.Config{Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{OnCodes: []string{"Unavailable"}}}}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `"Unavailable" is not a gRPC code name (did you mean UNAVAILABLE?)`) {
		t.Errorf("Validate: %v", err)
	}

	// A service config (grpc-go takes only the upper-case name) suggests it too.
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["unavailable"]}}]}`
	if _, _, err := config.ParseServiceConfig("sc.json", []byte(sc)); err == nil || !strings.Contains(err.Error(), `retryableStatusCodes[0]: "unavailable" is not a gRPC code name (did you mean "UNAVAILABLE"?`) {
		t.Errorf("service config: %v", err)
	}
}
