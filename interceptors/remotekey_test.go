package interceptors_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	grpccodes "google.golang.org/grpc/codes"
)

// A method whose only override is a classifier entry shares its service's fleet-wide limiter,
// keyed by the service (ratelimit.RemoteFactory): a rate limit neither classifies outcomes nor
// bounds itself by the budget. A method with a rate_limit of its own gets its own, keyed by its
// full method.
func TestRemoteLimiterKeyIgnoresClassifier(t *testing.T) {
	const svc = "test.v1.RemoteKey"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {RateLimit: &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{
			"Classified": {Overrides: config.Overrides{Classifier: codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Business}}}},
			"Own":        {Overrides: config.Overrides{RateLimit: config.Set(ratelimit.Config{Rate: 7}, "rate")}},
		}}},
	}
	f := &remoteFactory{}
	s, err := interceptors.New(cfg, interceptors.WithRemoteLimiter(f.make))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string]bool{svc: true, "/" + svc + "/Own": true}
	if len(f.keys) != len(want) || !want[f.keys[0]] || !want[f.keys[1]] || f.keys[0] == f.keys[1] {
		t.Fatalf("remote limiters made for keys %q, want one for %s and one for /%s/Own", f.keys, svc, svc)
	}
}
