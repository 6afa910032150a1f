package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// A reload that changes only a bulkhead's max_wait keeps the bulkhead, with its slots in
// use, and gives new waiters the new wait: it was replaced by an empty one, so that for a
// while the service saw twice its max_concurrent.

const maxWaitSvc = "test.v1.MaxWait"

// maxWaitCfg configures maxWaitSvc's bulkhead of one slot; more is yaml added under the
// service (methods, built at a reload) and after it (other services).
func maxWaitCfg(t *testing.T, adaptive string, maxWait time.Duration, more ...string) *config.Config {
	t.Helper()
	more = append(more, "", "")
	c, _, err := config.Parse("maxwait.yaml", fmt.Appendf(nil, `
services:
  %s:
    bulkhead:
      max_concurrent: 1
      max_wait: %s
      adaptive: {algorithm: %q}
%s
%s
`, maxWaitSvc, maxWait, adaptive, more[0], more[1]))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A call holds the only slot; a reload turns max_wait 50ms into 0s (fail fast): a second call
// is refused at once by the same bulkhead, which runs with the new wait. The method's chain is
// built on its first call, and kept by the reload (lazy), or built again by the reload, as
// that of a method the configuration lists (listed).
func TestReloadOfMaxWaitKeepsTheBulkhead(t *testing.T) {
	for _, tt := range []struct{ name, adaptive, methods string }{
		{"fixed/lazy", "", ""}, {"aimd/lazy", "aimd", ""}, {"gradient/lazy", "gradient", ""},
		{"fixed/listed", "", "    methods: {Do: {}}"}, {"aimd/listed", "aimd", "    methods: {Do: {}}"},
	} {
		adaptive := tt.adaptive
		t.Run(tt.name, func(t *testing.T) {
			s, err := interceptors.New(maxWaitCfg(t, adaptive, 50*time.Millisecond, tt.methods), interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			release := testkit.Hold(context.Background(), s.Unary(), "/"+maxWaitSvc+"/Do")
			before := s.Bulkheads()[maxWaitSvc]
			if err := s.Reload(maxWaitCfg(t, adaptive, 0, tt.methods)); err != nil {
				t.Fatal(err)
			}
			inv := &testkit.CountingInvoker{}
			err = s.Unary()(context.Background(), "/"+maxWaitSvc+"/Do", nil, nil, nil, inv.Invoke)
			if err := release(); err != nil {
				t.Fatal(err)
			}
			after := s.Bulkheads()[maxWaitSvc]
			if after != before {
				t.Errorf("the bulkhead was replaced by a reload of max_wait alone (%p, was %p)", after, before)
			}
			if !errors.Is(err, bulkhead.ErrFull) {
				t.Errorf("a call while another holds the one slot, after the reload: %v, want bulkhead.ErrFull", err)
			}
			if got := after.Config().MaxWait; got != 0 {
				t.Errorf("Config().MaxWait after the reload = %v, want 0s", got)
			}
		})
	}
}

// A reload from 0s (fail fast) to 1s: a second call waits for the slot the first holds, for
// the new wait, and is then refused.
func TestReloadOfMaxWaitAppliesToNewWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		s, err := interceptors.New(maxWaitCfg(t, "", 0), interceptors.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		release := testkit.Hold(context.Background(), s.Unary(), "/"+maxWaitSvc+"/Do")
		if err := s.Reload(maxWaitCfg(t, "", time.Second)); err != nil {
			t.Fatal(err)
		}
		entered := false
		done := make(chan error, 1)
		go func() {
			done <- s.Unary()(context.Background(), "/"+maxWaitSvc+"/Do", nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					entered = true
					return nil
				})
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Errorf("the second call returned without waiting (entered the invoker: %v): %v", entered, err)
		default:
			clk.Advance(time.Second)
			synctest.Wait()
			if err := <-done; !errors.Is(err, bulkhead.ErrFull) || entered {
				t.Errorf("the second call after the new max_wait: %v (entered the invoker: %v), want bulkhead.ErrFull", err, entered)
			}
		}
		if err := release(); err != nil {
			t.Error(err)
		}
	})
}

// A rejected reload (another service's fleet-wide limiter fails to build, after the bulkhead's
// chain was built) leaves the kept bulkhead with its former max wait.
func TestRejectedReloadRestoresMaxWait(t *testing.T) {
	f := &remoteFactory{}
	s, err := interceptors.New(maxWaitCfg(t, "", 50*time.Millisecond, "    methods: {Do: {}}"),
		interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))), interceptors.WithRemoteLimiter(f.make))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := s.Bulkheads()[maxWaitSvc]
	down := fmt.Sprintf("  test.v1.Zdown:\n    rate_limit: {rate: 5, redis: {addr: %q}}\n    methods: {Do: {}}", downAddr)
	if err := s.Reload(maxWaitCfg(t, "", 0, "    methods: {Do: {}}", down)); !errors.Is(err, errDown) {
		t.Fatalf("Reload: %v, want %v", err, errDown)
	}
	after := s.Bulkheads()[maxWaitSvc]
	if after != before {
		t.Errorf("the bulkhead was replaced by a rejected reload")
	}
	if got := after.Config().MaxWait; got != 50*time.Millisecond {
		t.Errorf("Config().MaxWait after a rejected reload = %v, want 50ms", got)
	}
	if after.Instant(nil) {
		t.Errorf("Instant(nil) after a rejected reload = true, want false (50ms max wait)")
	}
}
