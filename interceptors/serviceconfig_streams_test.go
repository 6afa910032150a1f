package interceptors_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// timedMethods returns the methods a service config (ServiceConfig's JSON) gives a timeout,
// "service/method", with the timeout.
func timedMethods(t *testing.T, sc string) map[string]string {
	t.Helper()
	var doc struct {
		MethodConfig []struct {
			Name    []struct{ Service, Method string }
			Timeout string
		}
	}
	if err := json.Unmarshal([]byte(sc), &doc); err != nil {
		t.Fatalf("ServiceConfig %s: %v", sc, err)
	}
	out := map[string]string{}
	for _, mc := range doc.MethodConfig {
		for _, n := range mc.Name {
			if mc.Timeout != "" {
				out[n.Service+"/"+n.Method] = mc.Timeout
			}
		}
	}
	return out
}

// A server-streaming method gets no timeout from ServiceConfig, as a client-streaming one
// does not (a stream's per-attempt timeout is lifted when it commits; grpc's would not be):
// of the linked grpc.health.v1.Health, listed with a per-attempt timeout, the unary Check gets
// it and the server-streaming Watch none, which grpc would end after 2 s of watching.
func TestServiceConfigServerStreamingGetsNone(t *testing.T) {
	const health = "grpc.health.v1.Health"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: 2 * time.Second}}},
		Services: map[string]config.Service{health: {Profile: "p"}},
	}
	sc, err := suiteOf(t, cfg).ServiceConfig("")
	if err != nil {
		t.Fatal(err)
	}
	got := timedMethods(t, sc)
	if to, ok := got[health+"/Check"]; !ok || to != "2s" {
		t.Errorf("the unary %s/Check got timeout %q, want 2s: %s", health, to, sc)
	}
	if to, ok := got[health+"/Watch"]; ok {
		t.Errorf("the server-streaming %s/Watch got timeout %q, want none: %s", health, to, sc)
	}
}
