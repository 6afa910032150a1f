package kyc_test

import (
	"bytes"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestTableColumnsAlign: the summary table's counts, percentages and notes each start in one
// column on every row. A tabwriter sized the count column over the latency row too ("p50
// 25ms" made it 10 wide: "verifications  100       in 1.24s"), and a row without a note ended
// the percentage column, so the decided row's note and the rejected row's started apart.
func TestTableColumnsAlign(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    kyc.Summary
		want string
	}{
		{"closed loop", kyc.Summary{
			Mode: "closed", Total: 100, Approved: 91, Rejected: 9, DecidedPct: 100,
			RejectedReasons: map[string]int{"ocr: DOCUMENT_UNREADABLE": 4, "liveness: SPOOF_DETECTED": 5},
			P50Ms:           25, P99Ms: 863, MaxMs: 1190, ElapsedMs: 1240, ThroughputPerS: 80.65,
		}, `verifications  100          in 1.24s (80.7/s)
  decided      100  100.0%  of approved + rejected + failed + shed (decided: approved + rejected)
  approved      91   91.0%
  rejected       9    9.0%  rejecting steps (one verification may count under several): liveness: SPOOF_DETECTED 5, ocr: DOCUMENT_UNREADABLE 4
  failed         0    0.0%
latency                     p50 25ms  p99 863ms  max 1.19s
`},
		{"open loop, shed and interrupted", kyc.Summary{
			Mode: "open", Interrupted: true, Total: 40, Approved: 20, Failed: 18, Cancelled: 2, NotStarted: 5, Shed: 3,
			DecidedPct: 48.78, FailedReasons: map[string]int{"ocr: UNAVAILABLE CIRCUIT_OPEN": 18},
			P50Ms: 2.5, P99Ms: 7000, MaxMs: 8000, ElapsedMs: 2000, ThroughputPerS: 20,
			Rate: 25, ArrivalsLostS: 0.84, InFlightLimit: 250, MaxInFlight: 31,
		}, `INTERRUPTED: partial summary (2 cancelled in flight, 5 not started)
verifications     40         in 2s (20.0/s), open loop at 25/s, at most 31 in flight (bound 250)
  decided         20  48.8%  of approved + rejected + failed + shed (decided: approved + rejected)
  approved        20  50.0%
  rejected         0   0.0%
  failed          18  45.0%  failed steps (one verification may count under several): ocr: UNAVAILABLE CIRCUIT_OPEN 18
  cancelled        2   5.0%  (interrupted, not counted as failed)
  shed             3         (arrivals past the in-flight bound, not started)
arrivals lost  0.84s         (failed + shed) / rate
latency                      p50 2.5ms  p99 7s  max 8s
`},
	} {
		var b bytes.Buffer
		if err := tt.s.WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		got, _, _ := bytes.Cut(b.Bytes(), []byte("\n\n")) // the first table; the services' follows
		if string(got)+"\n" != tt.want {
			t.Errorf("%s: table\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}
