package stub

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSpikedCountsSpikesServedInFull: Spiked counts, per method and request id, the attempts
// that drew a spike and waited it out; not an attempt whose caller cancelled during the spike
// (a hedge that won), not an attempt without a spike, not another method's.
func TestSpikedCountsSpikesServedInFull(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{Faults: Faults{Latency: 20 * time.Millisecond, SpikeRate: 1, Spike: time.Second}}, WithClock(fake))
	ctx := context.Background()

	// Served in full, twice: counted twice.
	for range 2 {
		done := goExtract(e, withScript(ctx, MDRequestID, "a"))
		blockUntil(t, fake, 1)
		fake.Advance(time.Second + 20*time.Millisecond)
		if r := <-done; r.err != nil {
			t.Fatalf("request a: %v", r.err)
		}
	}
	// Cancelled by its caller during the spike: attempted, not counted.
	cctx, cancel := context.WithCancel(ctx)
	done := goExtract(e, withScript(cctx, MDRequestID, "b"))
	blockUntil(t, fake, 1)
	cancel()
	if r := <-done; status.Code(r.err) != grpccodes.Canceled {
		t.Fatalf("request b: %v, want Canceled", r.err)
	}
	eventually(t, "the stub to count b as Canceled", func() bool { return e.s.Requests(MethodExtract, grpccodes.Canceled) == 1 })
	// No spike: not counted.
	if err := e.s.SetFaults(Faults{Latency: time.Second}); err != nil {
		t.Fatal(err)
	}
	done = goExtract(e, withScript(ctx, MDRequestID, "c"))
	blockUntil(t, fake, 1)
	fake.Advance(time.Second)
	if r := <-done; r.err != nil {
		t.Fatalf("request c: %v", r.err)
	}

	for _, tt := range []struct {
		method, id     string
		attempts, want int
	}{
		{MethodExtract, "a", 2, 2},
		{MethodExtract, "b", 1, 0},
		{MethodExtract, "c", 1, 0},
		{MethodCompare, "a", 0, 0}, // counted per method, as attempts are
		{MethodExtract, "unknown", 0, 0},
	} {
		if got := e.s.Attempts(tt.method, tt.id); got != tt.attempts {
			t.Errorf("Attempts(%s, %s) = %d, want %d", tt.method, tt.id, got, tt.attempts)
		}
		if got := e.s.Spiked(tt.method, tt.id); got != tt.want {
			t.Errorf("Spiked(%s, %s) = %d, want %d", tt.method, tt.id, got, tt.want)
		}
	}
}
