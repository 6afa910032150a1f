package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Under the built-in configuration, calls whose caller's deadline had passed before they
// began (a KYC check that ran out of its 8 s and still asks the next service), which grpc
// fails before sending, leave the service's breaker, adaptive throttle and bulkhead as they were:
// before the fix, the ml profile's breaker opened on them, for a service that never saw a
// call, and its adaptive throttle counted them as requests not accepted, so every later
// caller was refused. They still reach the caller as DeadlineExceeded,
// made once each.
func TestCallsPastTheirDeadlineLeaveTheServiceAlone(t *testing.T) {
	const service = "kyc.v1.FaceMatchService"
	reg := &breaker.Registry{}
	s, err := interceptors.New(config.Builtin(), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inv := &testkit.CountingInvoker{Err: status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")}
	ended, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	unary := s.Unary()
	const calls = 50
	for range calls {
		if err := unary(ended, testkit.MethodCompare, nil, nil, nil, inv.Invoke); status.Code(err) != grpccodes.DeadlineExceeded {
			t.Fatalf("call = %v, want DeadlineExceeded", err)
		}
	}
	if n := inv.Count(testkit.MethodCompare); n != calls {
		t.Errorf("invoker saw %d attempts, want %d (no retry of a call past its deadline)", n, calls)
	}
	b, ok := reg.Lookup(service)
	if !ok {
		t.Fatal("no breaker for the service")
	}
	if st := b.Stats(); st.State != breaker.Closed || st.Calls != 0 {
		t.Errorf("breaker: %+v, want closed with no call counted", st)
	}
	if th := s.Throttles()[service]; th == nil {
		t.Error("no adaptive throttle for the service")
	} else if r, a := th.Counts(); r != 0 || a != 0 {
		t.Errorf("adaptive throttle counted %d requests, %d accepts, want none", r, a)
	}
	// The built-in ml bulkhead is adaptive: its limit starts at InitialLimit, and a call the
	// service never saw gives it no sample to move it.
	if bh := s.Bulkheads()[service]; bh == nil || bh.InFlight() != 0 || bh.Capacity() != bh.Config().Adaptive.InitialLimit {
		t.Errorf("bulkhead: %v, want all its slots free at its initial limit", bh)
	}
}
