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

// TestServiceConfigThrottlingOutOfBoundsWithoutMethodConfig: grpc-go checks retryThrottling
// only after the methodConfig list, and returns before it when the file has none, so it loads
// an out-of-bounds retryThrottling there (it governs nothing). bulwark refuses it all the
// same, naming the field, the value and gRFC A6's rule, as grpc-go does once any methodConfig
// list (even an empty one) is present.
func TestServiceConfigThrottlingOutOfBoundsWithoutMethodConfig(t *testing.T) {
	for _, tt := range []struct{ sc, want string }{
		{`{"retryThrottling":{"maxTokens":0,"tokenRatio":1}}`, "sc.json: retryThrottling.maxTokens: 0 must be more than 0 and at most 1000"},
		{`{"retryThrottling":{"maxTokens":1001,"tokenRatio":1},"methodConfig":null}`, "sc.json: retryThrottling.maxTokens: 1001 must be more than 0 and at most 1000"},
		{`{"retryThrottling":{"maxTokens":10,"tokenRatio":-1},"methodConfig":[]}`, "sc.json: retryThrottling.tokenRatio: -1 must be more than 0"},
	} {
		_, _, err := config.ParseServiceConfig("sc.json", []byte(tt.sc))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %q", tt.sc, err, tt.want)
		}
	}
}

// A tokenRatio above a maxTokens too fine for the bucket is taken as maxTokens, and that is
// what the bucket refuses: the error names maxTokens alone. It also said "tokenRatio: 1 is
// below 0.0005", of a value that is not.
func TestServiceConfigCappedTokenRatioNotBlamed(t *testing.T) {
	const sc = `{"retryThrottling":{"maxTokens":0.0001,"tokenRatio":1}}`
	const want = "sc.json: retryThrottling.maxTokens: 0.0001 is below 0.0005 (the bucket counts thousandths of a token)"
	if _, _, err := config.ParseServiceConfig("sc.json", []byte(sc)); err == nil || err.Error() != want {
		t.Errorf("%s:\n got %v\nwant %s", sc, err, want)
	}
}
