package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestServiceConfigEdges pins gRFC A6's bounds and bulwark's conversions at their edges:
// retryThrottling.maxTokens 1000 is in (0, 1000]; hedgingDelay 0s becomes 1ms, with a warning
// at the field.
func TestServiceConfigEdges(t *testing.T) {
	retry := `"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}`
	cfg, _, err := config.ParseServiceConfig("sc.json", []byte(`{"retryThrottling":{"maxTokens":1000,"tokenRatio":1},"methodConfig":[{"name":[{"service":"a.v1.S"}],`+retry+`}]}`))
	if err != nil {
		t.Fatalf("maxTokens 1000: error %v, want none", err)
	}
	if got := cfg.Profiles["grpc-0"].Retry.Throttle.MaxTokens; got != 1000 {
		t.Errorf("maxTokens 1000: retry.throttle.max_tokens %v, want 1000", got)
	}

	cfg, warns, err := config.ParseServiceConfig("sc.json", []byte(`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"0s","nonFatalStatusCodes":["UNAVAILABLE"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Profiles["grpc-0"].Hedge.Delay; got != time.Millisecond {
		t.Errorf("hedgingDelay 0s: hedge.delay %v, want 1ms", got)
	}
	found := false
	for _, w := range warns {
		if w.Path == "methodConfig[0].hedgingPolicy.hedgingDelay" && w.Message == "0s sends every attempt at once in gRPC; bulwark hedges after a delay, here 1ms" {
			found = true
		}
	}
	if !found {
		t.Errorf("hedgingDelay 0s: no warning at methodConfig[0].hedgingPolicy.hedgingDelay; warnings %v", warns)
	}
}
