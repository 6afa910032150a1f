package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// A service config with several bad entries reports each of them, joined in document order,
// each a *config.Error naming the file, the field's JSON path, the value and the rule, as Parse
// does for YAML. Before, only the first came back: fixing it revealed the next, one load at a
// time. The first error's text is what it was alone.
func TestServiceConfigReportsEveryError(t *testing.T) {
	const doc = `{
  "retryThrottling": {"maxTokens": 0, "tokenRatio": 0},
  "methodConfig": [
    {"name": [{"service": "a.v1.S"}], "retryPolicy": {"maxAttempts": 1, "initialBackoff": "0s", "maxBackoff": "1s", "backoffMultiplier": 2}},
    {"name": [{"method": "M"}]},
    {"name": [{"service": "a.v1.T"}, {"service": "a.v1.T"}, {"service": "a.v1.T/M"}]},
    {"name": [{"service": "a.v1.U"}], "hedgingPolicy": {"maxAttempts": 1, "nonFatalStatusCodes": ["OK"]}}
  ]
}`
	want := []string{
		"sc.json: retryThrottling.maxTokens: 0 must be more than 0 and at most 1000",
		"sc.json: retryThrottling.tokenRatio: 0 must be more than 0",
		"sc.json: methodConfig[0].retryPolicy.maxAttempts: 1 must be 2 or more",
		"sc.json: methodConfig[0].retryPolicy.initialBackoff: 0s must be more than 0",
		"sc.json: methodConfig[0].retryPolicy.retryableStatusCodes: [] must name at least one code",
		"sc.json: methodConfig[1].name[0].method: M is set without a service; gRPC rejects the config",
		"sc.json: methodConfig[2].name[1]: a.v1.T/ is named twice (also at methodConfig[2].name[0]); gRPC rejects the config",
		`sc.json: methodConfig[2].name[2].service: "a.v1.T/M" is a method's full name`,
		"sc.json: methodConfig[3].hedgingPolicy.maxAttempts: 1 must be 2 or more",
		`sc.json: methodConfig[3].hedgingPolicy.nonFatalStatusCodes[0]: "OK" is not a failure code`,
	}
	cfg, warns, err := config.ParseServiceConfig("sc.json", []byte(doc))
	if err == nil || cfg != nil || warns != nil {
		t.Fatalf("ParseServiceConfig = %v, %v, %v; want only an error", cfg, warns, err)
	}
	got := fielderr.Flatten(err)
	if len(got) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i, e := range got {
		var ce *config.Error
		if !errors.As(e, &ce) || ce.File != "sc.json" || ce.Path == "" || ce.Value == "" || ce.Rule == "" {
			t.Errorf("error %d (%T) %q is not a *config.Error naming file, path, value and rule", i, e, e)
		}
		if !strings.HasPrefix(e.Error(), want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, e, want[i])
		}
	}
	// The first error alone reads as it did.
	_, _, err = config.ParseServiceConfig("sc.json", []byte(`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":1,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]}}]}`))
	if err == nil || err.Error() != "sc.json: methodConfig[0].retryPolicy.maxAttempts: 1 must be 2 or more" {
		t.Fatalf("one error: %v", err)
	}
}
