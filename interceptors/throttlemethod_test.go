package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A suite's throttle of one method (a method entry with an adaptive throttle of its own) names
// its service and its full method in its levels, as a method's bulkhead and breaker do: the
// suite's levels held two readings of the service with no method, one of which promobs
// dropped, so the method's rejection probability (or its service's) was never shown.
func TestMethodThrottleNamesItsServiceAndMethod(t *testing.T) {
	const (
		svc     = "test.v1.Throttled"
		special = "/" + svc + "/Special"
		plain   = "/" + svc + "/Plain"
	)
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {AdaptiveThrottle: &throttle.Config{K: 2}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{
			"Special": {Overrides: config.Overrides{AdaptiveThrottle: config.Set(throttle.Config{K: 1.5}, "k")}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := interceptors.Object(s, "adaptive_throttle", special).(*throttle.Throttle); !ok {
		t.Fatalf("no throttle named %s: the method has no throttle of its own", special)
	}
	// Only the method's calls fail: its throttle rejects with some probability, its service's not.
	failing := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.ResourceExhausted, "busy")
	}
	for range 20 {
		_ = s.Unary()(context.Background(), special, nil, nil, nil, failing)
	}
	_ = s.Unary()(context.Background(), plain, nil, nil, nil, new(testkit.CountingInvoker).Invoke)

	type id struct{ service, method string }
	got := map[id]float64{}
	s.Levels(func(l observe.Level) bool {
		if l.Kind == observe.LevelThrottleProbability {
			if _, dup := got[id{l.Service, l.Method}]; dup {
				t.Errorf("two throttle readings named %q %q", l.Service, l.Method)
			}
			got[id{l.Service, l.Method}] = l.Value
		}
		return true
	})
	if len(got) != 2 {
		t.Fatalf("throttle readings %v, want the service's and the method's", got)
	}
	if p, ok := got[id{svc, ""}]; !ok || p != 0 {
		t.Errorf("service's throttle: %v %v, want a reading of 0", p, ok)
	}
	if p, ok := got[id{svc, special}]; !ok || p <= 0 {
		t.Errorf("method's throttle: %v %v, want a reading above 0", p, ok)
	}
}
