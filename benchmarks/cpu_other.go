//go:build !unix

package benchmarks

import "time"

// processCPU returns 0 where getrusage is not available: no cpu-ns/op is reported.
func processCPU() time.Duration { return 0 }
