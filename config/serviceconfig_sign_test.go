package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// grpc-go reads a duration's sign: "+1s" is 1s, "-.5s" is -500ms. A service config grpc-go
// takes must not be refused for a "+", and takes the value grpc-go gives it; "-0s" is 0s, with
// the warning of "0s".
func TestServiceConfigSignedDurationAsGRPC(t *testing.T) {
	const retry = `"retryPolicy":{"maxAttempts":3,"initialBackoff":"+0.25s","maxBackoff":"+2s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"],"perAttemptRecvTimeout":"+1.s"}`
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"+3s",` + retry + `},
		{"name":[{"service":"b.v1.S"}],"timeout":"-0s"},
		{"name":[{"service":"c.v1.S"}],"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"+0.1s","nonFatalStatusCodes":["UNAVAILABLE"]}}]}`
	cfg, warns, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatalf("signed durations grpc-go reads are refused: %v", err)
	}
	a := cfg.Resolve("/a.v1.S/M")
	if a.Deadline == nil || a.Deadline.Max != 3*time.Second {
		t.Errorf(`timeout "+3s": deadline %+v, want max 3s`, a.Deadline)
	}
	if r := a.Retry; r.InitialBackoff != 250*time.Millisecond || r.MaxBackoff != 2*time.Second || r.PerAttemptTimeout != time.Second {
		t.Errorf("retry backoff %v..%v, per attempt %v; want 250ms..2s, 1s", r.InitialBackoff, r.MaxBackoff, r.PerAttemptTimeout)
	}
	if d := cfg.Resolve("/b.v1.S/M").Deadline; d != nil {
		t.Errorf(`timeout "-0s": deadline %+v, want none, as for "0s"`, d)
	}
	zeroWarned := false
	for _, w := range warns {
		zeroWarned = zeroWarned || w.Path == "methodConfig[1].timeout"
	}
	if !zeroWarned {
		t.Errorf(`timeout "-0s": no warning at methodConfig[1].timeout; warnings %v`, warns)
	}
	if h := cfg.Resolve("/c.v1.S/M").Hedge; h == nil || h.Delay != 100*time.Millisecond {
		t.Errorf(`hedgingDelay "+0.1s": hedge %+v, want delay 100ms`, h)
	}
}

// A negative duration grpc-go reads is refused where it makes no sense, by its path, value and
// rule: a timeout (grpc-go sets no deadline for one), a backoff (grpc-go refuses the policy), a
// per-attempt timeout or a hedging delay (which grpc-go ignores and bulwark applies).
func TestServiceConfigNegativeDurationRefused(t *testing.T) {
	const name = `"name":[{"service":"a.v1.S"}]`
	retry := func(initial, maxBackoff, perAttempt string) string {
		return `"retryPolicy":{"maxAttempts":3,"initialBackoff":"` + initial + `","maxBackoff":"` + maxBackoff + `","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"],"perAttemptRecvTimeout":"` + perAttempt + `"}`
	}
	for _, tt := range []struct{ mc, want string }{
		{`"timeout":"-1s"`, "sc.json: methodConfig[0].timeout: -1s must not be negative (grpc-go sets no deadline for one; leave the key out for none)"},
		{`"timeout":"-.5s"`, "sc.json: methodConfig[0].timeout: -500ms must not be negative (grpc-go sets no deadline for one; leave the key out for none)"},
		{retry("-1s", "1s", "1s"), "sc.json: methodConfig[0].retryPolicy.initialBackoff: -1s must be more than 0"},
		{retry("1s", "-0.5s", "1s"), "sc.json: methodConfig[0].retryPolicy.maxBackoff: -500ms must be more than 0"},
		{retry("1s", "1s", "-1s"), "sc.json: methodConfig[0].retryPolicy.perAttemptRecvTimeout: -1s must be more than 0 (gRFC A6; leave the key out for no per-attempt timeout)"},
		{`"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"-1s","nonFatalStatusCodes":["UNAVAILABLE"]}`, `sc.json: methodConfig[0].hedgingPolicy.hedgingDelay: -1s must not be negative (gRFC A6: the time before each further attempt; "0s" sends them all at once)`},
	} {
		sc := `{"methodConfig":[{` + name + `,` + tt.mc + `}]}`
		cfg, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err == nil {
			t.Errorf("%s: accepted (%+v), want %q", tt.mc, cfg.Resolve("/a.v1.S/M"), tt.want)
		} else if err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.mc, err, tt.want)
		}
	}
}
