package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
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

// Regression: an -addr whose port no dial can reach (past 65535, or 0) was taken, retried, and
// failed after 3 attempts in grpc's words ("address 99999: invalid port"), exit status 1; it is
// a usage error naming -addr, its value and the rule, as the orchestrator's -liveness is.
func TestAddrPortOutOfRangeIsAUsageErrorNamingTheFlag(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:99999", "localhost:0"} {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"-addr", addr}, new(bytes.Buffer), &stderr)
		if !errors.Is(err, errUsage) {
			t.Errorf("run -addr %s = %v, want a usage error", addr, err)
		}
		_, port, _ := strings.Cut(addr, ":")
		want := `client: -addr "` + addr + `": port "` + port + `" is not one to dial: want HOST:PORT with a port from 1 to 65535 (or a service name such as https)` +
			"\nRun 'client -h' for the flags.\n"
		if got := stderr.String(); got != want {
			t.Errorf("stderr %q\nwant   %q", got, want)
		}
	}
}
