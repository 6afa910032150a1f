package fallback_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Regression: a Func whose reply lacks a proto2 required field was served: the caller's reply
// was reset and filled with a message that cannot be marshaled (a proxy sending it on fails
// there, far from the fallback), counted as served. It is now refused when served, as a reply
// of the wrong type is: the call fails with an *IncompleteReplyError naming the method, the
// type and the field, status.Code is the original code, the caller's reply is untouched, and
// no FallbackServed is emitted.
func TestFuncReplyLackingARequiredFieldIsNotServed(t *testing.T) {
	method := "/" + testkit.FixtureMixed + "/Open"
	rec := &testkit.Recorder{}
	f, err := fallback.New(method, fallback.Config{}, fallback.Func(func(context.Context, string, any, error) proto.Message {
		return testkit.FixtureTicket("") // id, required, left unset
	}), fallback.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	reply := testkit.FixtureTicket("old")
	orig := testkit.Status(grpccodes.Unavailable, "down")
	err = f.Recover(context.Background(), method, nil, reply, orig)
	var ire *fallback.IncompleteReplyError
	if !errors.As(err, &ire) || !errors.Is(err, fallback.ErrReplyIncomplete) || !errors.Is(err, orig) {
		t.Fatalf("Recover = %v; want an *IncompleteReplyError wrapping ErrReplyIncomplete and the call's error", err)
	}
	if ire.Method != method || ire.Type != "testkit.fixture.v1.Ticket" {
		t.Errorf("IncompleteReplyError = %+v; want method %s, type testkit.fixture.v1.Ticket", ire, method)
	}
	want := "fallback: reply for " + method + " is a testkit.fixture.v1.Ticket that lacks a required field"
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, "testkit.fixture.v1.Ticket.id") || !strings.HasSuffix(msg, "; not served: "+orig.Error()) {
		t.Errorf("error = %q; want it to start %q, name the field id and end with the call's error", msg, want)
	}
	if status.Code(err) != grpccodes.Unavailable {
		t.Errorf("status.Code = %v, want the original Unavailable", status.Code(err))
	}
	id := reply.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name("id"))
	if got := reply.ProtoReflect().Get(id).String(); got != "old" {
		t.Errorf("the caller's reply has id %q; want it untouched (old)", got)
	}
	if f.Served() != 0 || rec.Count(observe.FallbackServed) != 0 {
		t.Errorf("Served %d, events %d; want none", f.Served(), rec.Count(observe.FallbackServed))
	}
}
