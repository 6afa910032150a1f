package interceptors_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// Regression: WithFallback took a Message lacking a proto2 required field, for a method, its
// service's "/<service>/*" or the service; the reply failed to marshal only where it was
// served and sent on. New refuses it, naming the option, the target and the field.
func TestWithFallbackRefusesAMessageLackingARequiredField(t *testing.T) {
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{config.DefaultProfile: {Fallback: &fallback.Config{}}}}
	lacking := fallback.Message(testkit.FixtureTicket(""))
	for _, target := range []string{"/" + testkit.FixtureSame + "/Open", "/" + testkit.FixtureSame + "/*", testkit.FixtureSame} {
		s, err := interceptors.New(cfg, interceptors.WithFallback(target, lacking))
		if s != nil {
			_ = s.Close()
		}
		want := "WithFallback: " + strconv.Quote(target) + " has no usable reply: Message of a testkit.fixture.v1.Ticket lacks a required field: "
		// protobuf-go's own text varies its spaces on purpose: the field is matched alone.
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "testkit.fixture.v1.Ticket.id") {
			t.Errorf("WithFallback(%q, a Ticket without id): New = %v; want an error containing %q and naming testkit.fixture.v1.Ticket.id", target, err, want)
		}
	}
	s, err := interceptors.New(cfg, interceptors.WithFallback(testkit.FixtureSame, fallback.Message(testkit.FixtureTicket("t-1"))))
	if err != nil {
		t.Fatalf("a Ticket with its id: New = %v", err)
	}
	_ = s.Close()
}
