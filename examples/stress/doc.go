// Package stress holds a seeded, randomized stress test of bulwark's suite over the mlstub
// services (TestStressInvariants): many concurrent unary and client-streaming calls through
// interceptors.New, with the stubs' faults, outages and the suite's configuration changed at
// random while they run, and the invariants that hold whatever happened checked at the end.
// It has no code of its own; see stress_test.go for its flags.
package stress
