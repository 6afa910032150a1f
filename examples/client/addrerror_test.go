package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// Regression: an -addr that gRPC cannot parse as a target failed as a run error (exit 1)
// whose message, `client: parse "dns:///%zz": invalid URL escape "%zz"`, named neither the
// flag nor what it wants; it is a usage error that names -addr, its value and the rule.
func TestUnparsableAddrIsAUsageErrorNamingTheFlag(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-addr", "%zz"}, new(bytes.Buffer), &stderr)
	if !errors.Is(err, errUsage) {
		t.Errorf("run -addr %%zz = %v, want a usage error", err)
	}
	want := `client: -addr "%zz": want HOST:PORT or a gRPC target such as dns:///host:port (parse "dns:///%zz": invalid URL escape "%zz")` +
		"\nRun 'client -h' for the flags.\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr %q\nwant   %q", got, want)
	}
}
