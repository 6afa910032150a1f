package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/protobuf/proto"
)

// A service WithFallback names by one of its methods alone (no configuration entry, no
// registered descriptor) is listed as a whole: past the bound on unlisted services, its other
// methods share its own chain ("/<service>/*"), not the suite's overflow chain of the services
// no one lists.
func TestServiceNamedByAFallbackMethodIsKnown(t *testing.T) {
	const svc = "test.v1.FallbackOnly"
	cfg := &config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {Retry: quickRetry(2)}}}
	reply := fallback.Func(func(context.Context, string, any, error) proto.Message { return nil })
	s := newClocked(t, cfg, interceptors.WithUnlistedLimit(1), interceptors.WithFallback("/"+svc+"/Do", reply))
	ok := &testkit.CountingInvoker{}
	// One service no one lists takes the bound.
	if err := s.Unary()(context.Background(), "/test.v1.Stranger/M", nil, nil, nil, ok.Invoke); err != nil {
		t.Fatal(err)
	}
	if err := s.Unary()(context.Background(), "/"+svc+"/Other", nil, nil, nil, ok.Invoke); err != nil {
		t.Fatal(err)
	}
	if got := interceptors.ChainMethod(s, "/"+svc+"/Other"); got != "/"+svc+"/*" {
		t.Errorf("a method of %s, which WithFallback names, is served by the chain of %q past the bound, want its service's %q", svc, got, "/"+svc+"/*")
	}
	if got := interceptors.ChainMethod(s, "/test.v1.Stranger2/M"); got != "/*/*" {
		t.Errorf("a service no one lists is served by the chain of %q past the bound, want the suite's overflow chain", got)
	}
}
