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
