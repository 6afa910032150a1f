package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestServiceConfigTooFineThrottlingNamesTheJSONField: a retryThrottling finer than bulwark's
// bucket counts (thousandths of a token), which gRPC takes, is refused, naming the field the
// service config writes and its value, not the converted configuration's path
// (profiles.grpc-0.retry.throttle.token_ratio), which is in no file.
func TestServiceConfigTooFineThrottlingNamesTheJSONField(t *testing.T) {
	for _, tt := range []struct{ rt, want string }{
		{`{"maxTokens":10,"tokenRatio":0.0001}`, "sc.json: retryThrottling.tokenRatio: 0.0001 "},
		{`{"maxTokens":0.0001,"tokenRatio":0.0001}`, "sc.json: retryThrottling.maxTokens: 0.0001 "},
	} {
		sc := `{"retryThrottling":` + tt.rt + `,"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
		_, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "profiles.") {
			t.Errorf("retryThrottling %s: error %v, want it to start %q", tt.rt, err, tt.want)
		}
	}
}
