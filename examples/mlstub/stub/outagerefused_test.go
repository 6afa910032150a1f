package stub

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestOutageRefusedCountsOnlyTheOutage: OutageRefused counts the requests an outage refused,
// apart from the Unavailable failures the fault profile injects (Requests counts both under
// Unavailable), so that a run can tell an outage no request met from one that refused some.
func TestOutageRefusedCountsOnlyTheOutage(t *testing.T) {
	fake := clocktest.New(time.Unix(0, 0))
	e := start(t, Config{Faults: Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 1}}}, WithClock(fake))
	ctx := context.Background()
	for range 2 { // injected failures: no outage
		if err := e.extract(ctx); status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("injected failure: %v", err)
		}
	}
	if n := e.s.OutageRefused(); n != 0 {
		t.Errorf("after 2 injected failures and no outage: OutageRefused %d, want 0", n)
	}
	e.s.OutageFor(time.Second)
	for range 3 {
		if err := e.extract(ctx); status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("during the outage: %v", err)
		}
	}
	fake.Advance(time.Second) // the outage is over
	if err := e.extract(ctx); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("injected failure after the outage: %v", err)
	}
	if n, all := e.s.OutageRefused(), e.s.Requests(MethodExtract, grpccodes.Unavailable); n != 3 || all != 6 {
		t.Errorf("OutageRefused %d and Requests(Unavailable) %d, want 3 of 6", n, all)
	}
}
