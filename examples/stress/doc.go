// Package stress holds a seeded, randomized stress test of bulwark's suite over the mlstub
// services and a test-only streaming service (TestStressInvariants): many concurrent unary,
// client-, server- and bidi-streaming calls through interceptors.New, with the services'
// faults, outages and the suite's configuration changed at random while they run and their
// levels read meanwhile, and the invariants that hold whatever happened checked during and
// after the run. It has no code of its own; see stress_test.go for its flags.
package stress
