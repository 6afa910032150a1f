package interceptors_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Regression: a Message given for a whole service was refused when a declared method of
// another response type had no fallback section, though such a method never serves it. The
// check now counts only the methods whose policy under the configuration has a fallback
// section, and runs at each Reload as well as at New: a configuration that gives such a
// method a fallback section is refused, the suite left as it was.
func TestServiceMessageCheckedOnlyForMethodsWithAFallback(t *testing.T) {
	mixed := testkit.FixtureMixed
	ticket := fallback.Message(testkit.FixtureTicket("t-1"))
	// Open and Peek (Tickets) have a fallback; Rate (a Score) has none.
	some := &config.Config{Budget: 5 * time.Second, Profiles: map[string]config.Profile{"p": {}},
		Services: map[string]config.Service{mixed: {Profile: "p", Methods: map[string]config.Method{
			"Open": {Overrides: config.Overrides{Fallback: config.Set(fallback.Config{})}},
			"Peek": {Overrides: config.Overrides{Fallback: config.Set(fallback.Config{})}},
		}}}}
	s := newClocked(t, some, interceptors.WithFallback(mixed, ticket))
	fail := &testkit.CountingInvoker{Err: unavailable()}
	got := testkit.FixtureTicket("")
	id := got.ProtoReflect().Descriptor().Fields().ByName("id")
	if err := s.Unary()(context.Background(), "/"+mixed+"/Open", nil, got, nil, fail.Invoke); err != nil || got.ProtoReflect().Get(id).String() != "t-1" {
		t.Fatalf("Open = %v, ticket %v; want the service's Message", err, got)
	}
	if err := s.Unary()(context.Background(), "/"+mixed+"/Rate", nil, testkit.FixtureScore(0), nil, fail.Invoke); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("Rate = %v, want its Unavailable: it has no fallback", err)
	}

	// Rate given a fallback section: the Message would be served to it.
	all := &config.Config{Budget: 5 * time.Second, Profiles: map[string]config.Profile{"p": {Fallback: &fallback.Config{}}},
		Services: map[string]config.Service{mixed: {Profile: "p"}}}
	want := "WithFallback: " + strconv.Quote(mixed) + " has one Message for methods of " + mixed + " that answer different types"
	if err := s.Reload(all); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Reload = %v, want an error with %q", err, want)
	}
	if err := s.Unary()(context.Background(), "/"+mixed+"/Rate", nil, testkit.FixtureScore(0), nil, fail.Invoke); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("Rate after the refused Reload = %v, want its Unavailable", err)
	}
	if _, err := interceptors.New(all, interceptors.WithFallback(mixed, ticket)); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New = %v, want an error with %q", err, want)
	}

	// A service outside the configuration, whose chains are built on a first call: checked
	// under the default profile.
	none := &config.Config{Budget: 5 * time.Second, Profiles: map[string]config.Profile{config.DefaultProfile: {}}}
	s = newClocked(t, none, interceptors.WithFallback(mixed, ticket))
	withDefault := &config.Config{Budget: 5 * time.Second, Profiles: map[string]config.Profile{config.DefaultProfile: {Fallback: &fallback.Config{}}}}
	if err := s.Reload(withDefault); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Reload = %v, want an error with %q", err, want)
	}
}
