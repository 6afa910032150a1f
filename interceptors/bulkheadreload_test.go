package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// A service that turns its profile's adaptive limit off (adaptive: {algorithm: ""}) has a
// fixed bulkhead, which ignores the adaptive fields it inherits. A reload that changes only
// those fields (the profile's gradient, for its other services) does not touch that bulkhead:
// it is kept, with its slots in use (the suite's Reload promise). It was rebuilt, empty, so
// that a call in flight and a new one each held a slot of a bulkhead of one.
func TestReloadOfIgnoredAdaptiveFieldsKeepsAFixedBulkhead(t *testing.T) {
	const svc = "test.v1.Fixed"
	cfg := func(smoothing float64) *config.Config {
		c, _, err := config.Parse("fixed.yaml", fmt.Appendf(nil, `
profiles:
  p:
    bulkhead:
      max_concurrent: 8
      adaptive: {algorithm: gradient, smoothing: %g}
services:
  %s:
    profile: p
    bulkhead:
      max_concurrent: 1
      adaptive: {algorithm: ""}
  test.v1.Adaptive:
    profile: p
`, smoothing, svc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	s, err := interceptors.New(cfg(0.2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := testkit.Hold(context.Background(), s.Unary(), "/"+svc+"/Do")
	before := s.Bulkheads()[svc]
	if err := s.Reload(cfg(0.5)); err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	err = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if after := s.Bulkheads()[svc]; after != before {
		t.Errorf("the fixed bulkhead was replaced by the reload (%p, was %p)", after, before)
	}
	if !errors.Is(err, bulkhead.ErrFull) {
		t.Errorf("a call while another holds the one slot, after the reload: %v, want bulkhead.ErrFull", err)
	}
}
