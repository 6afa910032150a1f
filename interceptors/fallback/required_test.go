package fallback_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// Regression: a Message lacking a proto2 required field was taken by New and CheckReply, and
// failed to marshal only where the reply was served and sent on. Both now refuse it, naming
// the message and the field, for a registered method and for one missing from the registry.
func TestMessageLackingARequiredFieldIsRefused(t *testing.T) {
	lacking := fallback.Message(testkit.FixtureTicket(""))
	// protobuf-go's own text varies its spaces on purpose: the field is matched alone.
	const want, field = "Message of a testkit.fixture.v1.Ticket lacks a required field: ", "testkit.fixture.v1.Ticket.id"
	if err := fallback.CheckReply(lacking); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), field) {
		t.Errorf("CheckReply = %v; want an error containing %q and naming %s", err, want, field)
	}
	for _, target := range []string{"/" + testkit.FixtureMixed + "/Open", "/" + testkit.FixtureMixed + "/*", "/unregistered.v1.Service/Get"} {
		if _, err := fallback.New(target, fallback.Config{}, lacking); err == nil || !strings.Contains(err.Error(), target+": "+want) || !strings.Contains(err.Error(), field) {
			t.Errorf("New(%q) = %v; want an error containing %q and naming %s", target, err, target+": "+want, field)
		}
	}
	// With the field set, the same message is a reply.
	if _, err := fallback.New("/"+testkit.FixtureMixed+"/Open", fallback.Config{}, fallback.Message(testkit.FixtureTicket("t-1"))); err != nil {
		t.Errorf("New with id set = %v", err)
	}
}
