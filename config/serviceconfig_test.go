package config_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	grpccodes "google.golang.org/grpc/codes"
)

// The retry example of gRFC A6 ("Integration with service config"), with its throttling. The
// examples name "EchoService"; bulwark wants fully qualified names, so it is in a package here.
const a6Retry = `{
  "loadBalancingPolicy": "round_robin",
  "methodConfig": [{
    "name": [{"service": "grpc.testing.EchoService", "method": "Echo"}],
    "timeout": "2.5s",
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.1s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }],
  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
}`

// The hedging example of gRFC A6.
const a6Hedging = `{
  "methodConfig": [{
    "name": [{"service": "grpc.testing.EchoService"}],
    "hedgingPolicy": {
      "maxAttempts": 4,
      "hedgingDelay": "0.5s",
      "nonFatalStatusCodes": ["UNAVAILABLE", "INTERNAL", "ABORTED"]
    }
  }],
  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
}`

// grpc-go's examples/features/retry: capitalised keys (grpc-go matches keys without regard to
// case), waitForReady, and a default method config.
const grpcGoRetry = `{
  "methodConfig": [{
    "name": [{"service": "grpc.examples.echo.Echo"}],
    "waitForReady": true,
    "retryPolicy": {
      "MaxAttempts": 7,
      "InitialBackoff": ".01s",
      "MaxBackoff": ".01s",
      "BackoffMultiplier": 1.0,
      "RetryableStatusCodes": [ "UNAVAILABLE", 8 ]
    }
  }, {
    "name": [{}],
    "timeout": "1s"
  }]
}`

func warned(ws []config.Warning, path string) bool {
	for _, w := range ws {
		if w.Path == path {
			return true
		}
	}
	return false
}

func classOf(t *testing.T, p config.Profile, c grpccodes.Code) codes.Class {
	t.Helper()
	cl, err := codes.Default().With(p.Classifier)
	if err != nil {
		t.Fatalf("classifier: %v", err)
	}
	return cl.ClassOf(c)
}

func TestServiceConfigA6Retry(t *testing.T) {
	cfg, warns, err := config.ParseServiceConfig("a6.json", []byte(a6Retry))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Services["grpc.testing.EchoService"].Methods["Echo"].Profile; got != "grpc-0" {
		t.Fatalf("EchoService/Echo bound to %q, want grpc-0", got)
	}
	p := cfg.Profiles["grpc-0"]
	want := retry.Config{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2,
		Jitter: retry.JitterFull, Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1}, Idempotent: true}
	if p.Retry == nil || *p.Retry != want {
		t.Errorf("retry %+v, want %+v", p.Retry, want)
	}
	if p.Deadline == nil || *p.Deadline != (deadline.Config{Default: 2500 * time.Millisecond, Max: 2500 * time.Millisecond}) {
		t.Errorf("deadline %+v, want default and max 2.5s", p.Deadline)
	}
	if p.Hedge != nil || p.Breaker != nil {
		t.Errorf("hedge %v breaker %v, want neither (the service config has none)", p.Hedge, p.Breaker)
	}
	// Only UNAVAILABLE is retried, as in gRPC; what bulwark would retry by default and the
	// config does not list is not retried but still counts as a failure.
	for code, want := range map[grpccodes.Code]codes.Class{
		grpccodes.Unavailable:       codes.Transient,
		grpccodes.DeadlineExceeded:  codes.ServerFault,
		grpccodes.ResourceExhausted: codes.ServerFault,
		grpccodes.InvalidArgument:   codes.Business,
	} {
		if got := classOf(t, p, code); got != want {
			t.Errorf("%v: class %v, want %v", code, got, want)
		}
	}
	if !warned(warns, "loadBalancingPolicy") || !warned(warns, "retryThrottling") {
		t.Errorf("warnings %v, want loadBalancingPolicy (no equivalent) and retryThrottling (per service)", warns)
	}
}

func TestServiceConfigA6Hedging(t *testing.T) {
	cfg, _, err := config.ParseServiceConfig("a6.json", []byte(a6Hedging))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Services["grpc.testing.EchoService"].Profile; got != "grpc-0" {
		t.Fatalf("EchoService bound to %q, want grpc-0", got)
	}
	p := cfg.Profiles["grpc-0"]
	if p.Hedge == nil || *p.Hedge != (hedge.Config{MaxAttempts: 4, Delay: 500 * time.Millisecond, Idempotent: true}) {
		t.Errorf("hedge %+v, want 4 attempts at a fixed 0.5s", p.Hedge)
	}
	// No retries, but hedges draw on the throttling bucket, as in gRPC.
	if p.Retry == nil || p.Retry.MaxAttempts != 1 || p.Retry.Throttle.MaxTokens != 10 {
		t.Errorf("retry %+v, want one attempt with the 10-token bucket", p.Retry)
	}
	for code, want := range map[grpccodes.Code]codes.Class{
		grpccodes.Unavailable:      codes.Transient,
		grpccodes.Internal:         codes.Transient,
		grpccodes.Aborted:          codes.Transient,
		grpccodes.DeadlineExceeded: codes.ServerFault,
	} {
		if got := classOf(t, p, code); got != want {
			t.Errorf("%v: class %v, want %v", code, got, want)
		}
	}
}

func TestServiceConfigGrpcGoExample(t *testing.T) {
	cfg, warns, err := config.ParseServiceConfig("retry.json", []byte(grpcGoRetry))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Profiles["grpc-0"]
	if p.Retry == nil || p.Retry.MaxAttempts != 5 || p.Retry.InitialBackoff != 10*time.Millisecond || p.Retry.Multiplier != 1 {
		t.Errorf("retry %+v, want 5 attempts (7 capped as grpc-go does) from 10ms, multiplier 1", p.Retry)
	}
	if got := classOf(t, p, grpccodes.ResourceExhausted); got != codes.Throttled {
		t.Errorf("code 8 (RESOURCE_EXHAUSTED): class %v, want throttled", got)
	}
	if d := cfg.Profiles[config.DefaultProfile].Deadline; d == nil || d.Max != time.Second {
		t.Errorf("default profile deadline %+v, want 1s", d)
	}
	for _, path := range []string{"methodConfig[0].waitForReady", "methodConfig[0].retryPolicy.maxAttempts"} {
		if !warned(warns, path) {
			t.Errorf("no warning at %s; got %v", path, warns)
		}
	}
	var out bytes.Buffer
	if err := config.Explain(&out, cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "grpc-0") || !strings.Contains(out.String(), "grpc.examples.echo.Echo") {
		t.Errorf("explain does not show the imported profile and service:\n%s", out.String())
	}
}

func TestServiceConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"both policies", `{"methodConfig":[{"name":[{"service":"S"}],"retryPolicy":{"maxAttempts":2,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]},"hedgingPolicy":{"maxAttempts":2}}]}`, "methodConfig[0]: retryPolicy and hedgingPolicy"},
		{"one attempt", `{"methodConfig":[{"name":[{"service":"S"}],"retryPolicy":{"maxAttempts":1,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]}}]}`, "retryPolicy.maxAttempts: 1 must be 2 or more"},
		{"no codes", `{"methodConfig":[{"name":[{"service":"S"}],"retryPolicy":{"maxAttempts":2,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":1}}]}`, "retryableStatusCodes"},
		{"bad duration", `{"methodConfig":[{"name":[{"service":"S"}],"timeout":"1m"}]}`, `methodConfig[0].timeout: "1m" is not a duration`},
		{"bad code", `{"methodConfig":[{"name":[{"service":"S"}],"hedgingPolicy":{"maxAttempts":2,"nonFatalStatusCodes":["BROKEN"]}}]}`, `nonFatalStatusCodes[0]: "BROKEN" is not a gRPC code name`},
		{"method without service", `{"methodConfig":[{"name":[{"method":"M"}]}]}`, "is set without a service"},
		{"named twice", `{"methodConfig":[{"name":[{"service":"S"}]},{"name":[{"service":"S"}]}]}`, "named twice"},
		{"unqualified service", `{"methodConfig":[{"name":[{"service":"EchoService"}],"timeout":"1s"}]}`, "not a fully qualified service name"},
		{"not json", `methodConfig: []`, "not a gRPC service config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := config.ParseServiceConfig("sc.json", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
