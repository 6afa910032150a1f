//go:build unix

package benchmarks

import (
	"testing"
	"time"
)

// cpuMeter measures the CPU time (user and system, every thread) the process spends while a
// benchmark runs, which on a loaded machine says more about a chain's cost than the wall time:
// waiting for a core is not counted. bufconn runs client and server in one process, so it
// includes the server's share and the garbage collector's, the same for every chain.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{start: processCPU()} }

// report adds cpu-ns/op to b's results.
func (m cpuMeter) report(b *testing.B) {
	if d := processCPU() - m.start; d > 0 && b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
