package interceptors_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// A suite's bulkhead of one method (a method entry with a bulkhead of its own) is named by its
// full method, but it guards a method of its service: its rejections, its events and its
// levels name the service as the service and the full method as the method, as a method's
// breaker does, so that observers (promobs' bulkhead gauges) tell it from its service's
// bulkhead instead of taking its full method for a service.
func TestMethodBulkheadNamesItsServiceAndMethod(t *testing.T) {
	const (
		svc     = "test.v1.Bulk"
		special = "/" + svc + "/Special"
		plain   = "/" + svc + "/Plain"
	)
	rec := new(testkit.Recorder)
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Bulkhead: &bulkhead.Config{MaxConcurrent: 4}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{
			"Special": {Overrides: config.Overrides{Bulkhead: config.Set(bulkhead.Config{MaxConcurrent: 1}, "max_concurrent")}},
		}}},
	}, interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	releasePlain := testkit.Hold(context.Background(), s.Unary(), plain)
	releaseSpecial := testkit.Hold(context.Background(), s.Unary(), special)
	if _, ok := interceptors.Object(s, "bulkhead", special).(*bulkhead.Bulkhead); !ok {
		t.Fatalf("no bulkhead named %s: the method has no bulkhead of its own", special)
	}

	// The method's bulkhead is full: the next call of the method is rejected.
	rec.Reset()
	err = s.Unary()(context.Background(), special, nil, nil, nil, new(testkit.CountingInvoker).Invoke)
	var rej *codes.Rejection
	if !errors.As(err, &rej) || rej.Policy != observe.PolicyBulkhead {
		t.Fatalf("a call of the full method's bulkhead: %v, want a bulkhead rejection", err)
	}
	if rej.Service != svc {
		t.Errorf("rejection's service %q, want %q", rej.Service, svc)
	}
	st, _ := status.FromError(err)
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.Metadata["service"] != svc {
		t.Errorf("ErrorInfo %v, want metadata service %q", info, svc)
	}
	evs := rec.Events(observe.Rejected)
	if len(evs) != 1 || evs[0].Policy != observe.PolicyBulkhead || evs[0].Service != svc || evs[0].Method != special {
		t.Errorf("Rejected events %+v, want one of the bulkhead naming service %q and method %q", evs, svc, special)
	}

	// The suite's levels: each bulkhead one call in flight, named by service and method.
	type id struct{ service, method string }
	inFlight := map[id]float64{}
	capacity := map[id]float64{}
	s.Levels(func(l observe.Level) bool {
		if l.Policy != observe.PolicyBulkhead {
			return true
		}
		switch l.Kind {
		case observe.LevelInFlight:
			inFlight[id{l.Service, l.Method}] = l.Value
		case observe.LevelCapacity:
			capacity[id{l.Service, l.Method}] = l.Value
		}
		return true
	})
	wantIn := map[id]float64{{svc, ""}: 1, {svc, special}: 1}
	wantCap := map[id]float64{{svc, ""}: 4, {svc, special}: 1}
	if len(inFlight) != 2 || inFlight[id{svc, ""}] != 1 || inFlight[id{svc, special}] != 1 {
		t.Errorf("in-flight levels %v, want %v", inFlight, wantIn)
	}
	if len(capacity) != 2 || capacity[id{svc, ""}] != 4 || capacity[id{svc, special}] != 1 {
		t.Errorf("capacity levels %v, want %v", capacity, wantCap)
	}

	for _, release := range []func() error{releasePlain, releaseSpecial} {
		if err := release(); err != nil {
			t.Fatal(err)
		}
	}
}
