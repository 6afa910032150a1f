package interceptors_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A method first called after Close fails with FailedPrecondition (Suite.Close); the suite
// emits CallFinished for every logical call (interceptors/doc.go), that one included, naming
// the call's service as every other event of it does.
func TestCallFinishedForAFirstCallAfterClose(t *testing.T) {
	rec := &testkit.Recorder{}
	s, err := interceptors.New(config.Builtin(), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	const method = "/b.v1.After/Do"
	if err := s.Unary()(context.Background(), method, nil, nil, nil, inv.Invoke); status.Code(err) != grpccodes.FailedPrecondition {
		t.Fatalf("a first call after Close: %v, want FailedPrecondition", err)
	}
	var got []observe.Event
	for _, e := range rec.Events() {
		if e.Kind == observe.CallFinished {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d CallFinished events for the failed call, want 1 (events: %+v)", len(got), rec.Events())
	}
	if e := got[0]; e.Service != "b.v1.After" || e.Method != method || e.Code != grpccodes.FailedPrecondition {
		t.Errorf("CallFinished %+v, want service b.v1.After, method %s, code FailedPrecondition", e, method)
	}
}

// After Close, Reload returns ErrClosed (Suite.Close), whatever the configuration: a program
// that reloads until the suite is closed stops on ErrClosed, also when the file it reloads is
// broken at the time.
func TestReloadAfterCloseIsErrClosed(t *testing.T) {
	s, err := interceptors.New(config.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	bad := config.Builtin()
	bad.Budget = -1
	if err := s.Reload(bad); !errors.Is(err, interceptors.ErrClosed) {
		t.Errorf("Reload of an invalid configuration after Close: %v, want ErrClosed", err)
	}
}
