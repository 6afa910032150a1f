package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// A key written twice takes its last value, as grpc-go's parser does (encoding/json, which
// matches keys regardless of case): ParseServiceConfig documents it. grpc-go refuses the
// first document below (maxAttempts 1) and takes the second (maxAttempts 3).
func TestServiceConfigDuplicateKeyTakesLast(t *testing.T) {
	const policy = `"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]`
	_, _, err := config.ParseServiceConfig("sc.json", []byte(`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,`+policy+`,"MAXATTEMPTS":1}}]}`))
	if want := "sc.json: methodConfig[0].retryPolicy.maxAttempts: 1 must be 2 or more"; err == nil || err.Error() != want {
		t.Errorf("maxAttempts 3 then MAXATTEMPTS 1: %v, want %s", err, want)
	}
	cfg, _, err := config.ParseServiceConfig("sc.json", []byte(`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1s","Timeout":"2s","retryPolicy":{"maxAttempts":1,`+policy+`,"maxAttempts":3}}]}`))
	if err != nil {
		t.Fatalf("maxAttempts 1 then 3: %v, want none", err)
	}
	p := cfg.Resolve("/a.v1.S/M")
	if p.Retry.MaxAttempts != 3 || p.Deadline == nil || p.Deadline.Max != 2*time.Second {
		t.Errorf("retry %d attempts, deadline %+v; want the last values: 3 attempts, 2s", p.Retry.MaxAttempts, p.Deadline)
	}
}
