// Package benchmarks compares bulwark's interceptors with a raw gRPC call and with peer
// libraries (failsafe-go, go-grpc-middleware's retry, sony/gobreaker, x/time/rate), and measures
// how bulwark behaves against a faulty service.
//
// It is its own module so that the peers never enter bulwark's go.mod.
//
// # What is here
//
//	| file             | holds                                                                  |
//	| ---------------- | ---------------------------------------------------------------------- |
//	| server.go        | a bufconn FaceMatchService.Compare and LivenessService.Check, with faults |
//	| chains.go        | the client chains measured: raw, each bulwark policy, the suite, peers |
//	| behaviour.go     | the fault harness: attempts per call, success share, fail-fast cost    |
//	| paired.go        | the headline's paired layout: every chain in one process, in blocks    |
//	| adaptive.go      | a server slowing past a knee of concurrency, and the bulkhead variants |
//	| configured.go    | suites configuring many methods or services, for the per-call cost     |
//	| overhead_test.go | success-path cost of each chain over bufconn, unary and stream         |
//	| hotpath_test.go  | policy hot paths without gRPC, against the peers' equivalents          |
//	| headline_test.go | the headline: each chain with a caller deadline; calls in flight       |
//	| own_test.go      | the suite's own work per call, without gRPC                            |
//	| stack_test.go    | how much of the caller's stack a chain's call uses                     |
//	| methods_test.go  | allocations per call independent of the methods configured             |
//	| adaptive_test.go | the adaptive bulkhead under the knee server                            |
//	| fixtures_test.go | goleak; every chain answers; the harness gives sane figures            |
//	| cmd/behaviour    | prints the behaviour tables                                            |
//	| cmd/adaptive     | prints results/adaptive.md: adaptive, fixed and no bulkhead compared   |
//	| cmd/brownout     | prints results/brownout.md: the orchestrator under fast failures       |
//	| cmd/tail         | prints results/tail.md: the orchestrator under latency spikes          |
//	| cmd/overhead     | turns `go test -bench` output into the ratio-to-raw tables             |
//	| cmd/paired       | runs the paired layout, for make report                                |
//	| cmd/report       | writes results/report.md, with the paired layout's intervals           |
//
// Run everything with `make -C benchmarks report` (see BENCHMARKS.md at the repository root).
package benchmarks
