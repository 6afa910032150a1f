// Package e2e holds bulwark's end-to-end tests: the KYC orchestrator's verifier, dialled
// through the interceptor suite, against the mlstub services on loopback, with faults
// injected at random, scripted per request, or by outages. The package has no code of its
// own; see the _test.go files.
package e2e
