package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestServiceConfigDefaultProfileSharesNothing: the default method config became two
// profiles, "default" and "grpc-<i>", that shared their sections: changing one in Go (a
// Config is plain data) changed the other, so tuning the default's retries also changed the
// services named in the same methodConfig.
func TestServiceConfigDefaultProfileSharesNothing(t *testing.T) {
	const sc = `{"methodConfig": [{"name": [{}, {"service": "a.v1.B"}], "timeout": "1s",
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
		"backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`
	cfg, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatal(err)
	}
	def := cfg.Profiles[config.DefaultProfile]
	def.Retry.MaxAttempts = 5
	def.Deadline.Max = 2 * time.Second
	def.Classifier.Codes[14] = 0 // UNAVAILABLE: success
	named := cfg.Profiles[config.ServiceConfigProfilePrefix+"0"]
	if named.Retry.MaxAttempts != 3 || named.Deadline.Max != time.Second || len(named.Classifier.Codes) != 3 {
		t.Fatalf("changing profile default changed grpc-0: retry %+v, deadline %+v, classifier %v", *named.Retry, *named.Deadline, named.Classifier.Codes)
	}
}
