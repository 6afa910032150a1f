package interceptors_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
)

// A reload that adds a service, whose breaker it publishes, and retires none: a Close that
// comes while its BreakerPublished is held (after the reload let the suite's lock go) sends its
// Retired events after it, and the suite reports itself closed only then. Before, the reload
// counted among those sending only when it retired something: Close sent its Retired events at
// once, reported the suite closed, and the new breaker's BreakerPublished came after them.
func TestCloseDuringReloadPublishedKeepsTheOrder(t *testing.T) {
	sink := &heldSink{}
	s := firstCallSuite(t, sink)
	const added = "test.v1.PubAdded"
	next := publishedCfg(t, "2", "  "+added+": {profile: p, methods: {Do: {}}}\n")
	closedEarly, err := closeWhileHeld(t, s, sink, observe.BreakerPublished, func() error { return s.Reload(next) })
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if closedEarly {
		t.Error("Close returned with the reload's BreakerPublished still to come, and the suite reported itself closed")
	}
	got := sink.events()
	published, retired := "published "+added+" ", "retired "+added+" "
	ok := len(got) > 1 && got[0] == published && slices.Contains(got, retired)
	for _, e := range got[min(1, len(got)):] {
		ok = ok && strings.HasPrefix(e, "retired ")
	}
	if !ok {
		t.Errorf("events since the reload: %q, want %q first, then the Close's Retired events (%q among them)", got, published, retired)
	}
	if !s.Closed() {
		t.Error("once the reload's BreakerPublished and the Close's Retired events are sent, the suite does not report itself closed")
	}
}
