package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestServiceConfigDefaultAppliesToEveryService: the default method config (a name {}) becomes
// the profile "default", which Resolve gives every service the configuration does not name, as
// gRPC applies the default config to every service. The importer warned that such services
// "pass through the suite unprotected", which is not what the suite does with them.
func TestServiceConfigDefaultAppliesToEveryService(t *testing.T) {
	cfg, warns, err := config.ParseServiceConfig("retry.json", []byte(grpcGoRetry))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Resolve("/other.v1.Unnamed/Call")
	if p.ProfileName != config.DefaultProfile || p.Deadline == nil || p.Deadline.Max != time.Second {
		t.Fatalf("unnamed service: profile %q, deadline %+v; want the default config's (1s)", p.ProfileName, p.Deadline)
	}
	for _, w := range warns {
		if strings.Contains(w.Message, "unprotected") || strings.Contains(w.Message, "services it does not name") {
			t.Errorf("warning %q says unnamed services are not protected; they get profile %q", w, p.ProfileName)
		}
	}
}

// TestServiceConfigZeroPerAttemptRecvTimeout: a perAttemptRecvTimeout of 0s sets no
// per-attempt timeout (retry.per_attempt_timeout 0 is none), and the warning says so; it said
// that bulwark "applies it as gRFC A6 defines it: retry.per_attempt_timeout 0s".
func TestServiceConfigZeroPerAttemptRecvTimeout(t *testing.T) {
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"],"perAttemptRecvTimeout":"0s"}}]}`
	cfg, warns, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Resolve("/a.v1.S/M").Retry.PerAttemptTimeout; got != 0 {
		t.Fatalf("per-attempt timeout %v, want none", got)
	}
	for _, w := range warns {
		if w.Path != "methodConfig[0].retryPolicy.perAttemptRecvTimeout" {
			continue
		}
		if strings.Contains(w.Message, "applies it") || !strings.Contains(w.Message, "no per-attempt timeout") {
			t.Fatalf("warning %q, want one saying that 0s sets no per-attempt timeout", w)
		}
		return
	}
	t.Fatalf("no warning at perAttemptRecvTimeout; got %v", warns)
}
