package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// warningsAt returns the messages of the warnings at path.
func warningsAt(ws []config.Warning, path string) []string {
	var msgs []string
	for _, w := range ws {
		if w.Path == path {
			msgs = append(msgs, w.Message)
		}
	}
	return msgs
}

// grpc-go's retryThrottling takes a token only for a failure whose code is in the policy's
// retryableStatusCodes (stream.go shouldRetry returns before throttle() for any other code);
// bulwark's token bucket takes one for every failure, INTERNAL or an unlisted UNAVAILABLE
// alike, so the same config stops retrying sooner. That must not pass in silence.
func TestServiceConfigThrottlingWarnsOfUnlistedFailures(t *testing.T) {
	_, warns, err := config.ParseServiceConfig("a6.json", []byte(a6Retry))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range warningsAt(warns, "retryThrottling") {
		if strings.Contains(m, "retryableStatusCodes") {
			return
		}
	}
	t.Errorf("no warning at retryThrottling that failures of codes not in retryableStatusCodes take tokens; got %v", warns)
}
