package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Suite.Close: a method whose chain is built on a first call, called before a Reload and not
// since, has no chain under the configuration in force, and Close builds none: its calls
// after Close fail with FailedPrecondition, as a method first called after Close does. One
// called since the Reload goes on.
func TestCloseAfterReloadFailsMethodsNotCalledSince(t *testing.T) {
	s, err := interceptors.New(config.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	call := func(method string) error {
		return s.Unary()(context.Background(), method, nil, nil, nil, inv.Invoke)
	}
	const idle, busy = "/test.v1.Idle/Do", "/test.v1.Busy/Do"
	for _, m := range []string{idle, busy} {
		if err := call(m); err != nil {
			t.Fatalf("%s before Close: %v", m, err)
		}
	}
	if err := s.Reload(config.Builtin()); err != nil {
		t.Fatal(err)
	}
	if err := call(busy); err != nil {
		t.Fatalf("%s after the reload: %v", busy, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := call(busy); err != nil {
		t.Errorf("%s, called since the reload, after Close: %v, want it served", busy, err)
	}
	if err := call(idle); status.Code(err) != grpccodes.FailedPrecondition {
		t.Errorf("%s, not called since the reload, after Close: %v, want FailedPrecondition", idle, err)
	}
}
