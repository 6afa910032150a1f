package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/app"
)

// TestBadFlagNamesFlagAndValue: a bad value is reported with the flag that carries it and the
// value given.
func TestBadFlagNamesFlagAndValue(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca := tlstest.Write(t).CA
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-unreadable-rate", "2"}, []string{"-unreadable-rate", "2"}},
		{[]string{"-expired-rate", "-0.5"}, []string{"-expired-rate", "-0.5"}},
		{[]string{"-unreadable-rate", "0.7", "-spoof-rate", "0.5"}, []string{"-unreadable-rate", "-spoof-rate", "1.2"}},
		{[]string{"-outage-at", "-2s", "-outage", "1s"}, []string{"-outage-at", "-2s"}},
		{[]string{"-outage", "-1s"}, []string{"-outage", "-1s"}},
		{[]string{"-config", "a.yaml", "-service-config", "b.json"}, []string{"-config", "-service-config"}},
		// A file that cannot be read is a bad command line: it was reported as the bare
		// "open …: no such file or directory" (exit status 1), naming no flag.
		{[]string{"-config", filepath.Join(dir, "missing.yaml")}, []string{"-config", "missing.yaml", "no such file", "orchestrator -h"}},
		{[]string{"-service-config", filepath.Join(dir, "missing.json")}, []string{"-service-config", "missing.json", "no such file"}},
		{[]string{"-config", dir}, []string{"-config", "is a directory"}},
		// The embedded stubs' fault flags, which the stub's profile checks.
		{[]string{"-spike-rate", "2"}, []string{"-spike-rate", "2"}},
		{[]string{"-latency", "-1s"}, []string{"-latency", "-1s"}},
		{[]string{"-spike", "-1s"}, []string{"-spike", "-1s"}},
		{[]string{"-pushback", "-1s"}, []string{"-pushback", "-1s"}},
		{[]string{"-capacity", "-2"}, []string{"-capacity", "-2"}},
		// An OTLP endpoint without a port, or given as a URL, was taken and dialled (port 443,
		// or a name that cannot resolve): the spans were reported lost only at the end.
		{[]string{"-trace", "otlp=localhost"}, []string{"-trace", "otlp=localhost", "HOST:PORT"}},
		{[]string{"-trace", "otlp=http://localhost:4317"}, []string{"-trace", "otlp=http://localhost:4317", "HOST:PORT"}},
		// An address to listen on without a port, or with one that is none: found only when
		// listening failed, exit status 1 as for an address in use.
		{[]string{"-serve", "nonsense"}, []string{"-serve", "nonsense", "HOST:PORT", "orchestrator -h"}},
		{[]string{"-metrics", "127.0.0.1:99999"}, []string{"-metrics", "127.0.0.1:99999", "HOST:PORT"}},
		// The TLS flags: a bad command line too (exit status 2), not a failure of the run.
		{[]string{"-tls-cert", cert}, []string{"-tls-cert", "-tls-key"}},
		{[]string{"-tls-cert", cert, "-tls-key", key}, []string{"-tls-*", "-liveness"}},
		// A -serve server speaking TLS presents a certificate: -tls-ca alone was found only
		// after the configuration was loaded, and exited 1 without the hint.
		{[]string{"-serve", "127.0.0.1:0", "-tls-ca", ca, "-liveness", "127.0.0.1:1", "-facematch", "127.0.0.1:1", "-ocr", "127.0.0.1:1"},
			[]string{"-serve", "-tls-cert", "-tls-key", "orchestrator -h"}},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr)
		if !errors.Is(err, app.ErrUsage) {
			t.Errorf("%v: err %v, want a usage error", tt.args, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr %q does not name %q", tt.args, strings.TrimSpace(stderr.String()), w)
			}
		}
	}
}

// TestBadValueNamesRule: a value the flag package cannot parse (a duration without a unit, a
// word for a number) is reported with the rule it broke, not flag's bare "parse error".
func TestBadValueNamesRule(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-latency", "5"}, []string{"-latency", `"5"`, "duration", "ms"}},
		{[]string{"-outage", "10"}, []string{"-outage", `"10"`, "duration"}},
		{[]string{"-n", "abc"}, []string{"-n", `"abc"`, "whole number"}},
		{[]string{"-n", "99999999999999999999"}, []string{"-n", "out of range"}},
		{[]string{"-rate", "fast"}, []string{"-rate", `"fast"`, "number"}},
		{[]string{"-json=maybe"}, []string{"-json", `"maybe"`, "true or false"}},
		{[]string{"-log-level", "verbose"}, []string{"-log-level", `"verbose"`, "debug, info, warn or error"}},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr)
		if !errors.Is(err, app.ErrUsage) {
			t.Errorf("%v: err %v, want a usage error", tt.args, err)
			continue
		}
		line, _, _ := strings.Cut(stderr.String(), "\n")
		if strings.Contains(line, "parse error") {
			t.Errorf("%v: %q says parse error without the rule", tt.args, line)
		}
		for _, w := range tt.want {
			if !strings.Contains(line, w) {
				t.Errorf("%v: first line %q does not say %q", tt.args, line, w)
			}
		}
	}
}

// TestStubFlagsNeedAnEmbeddedStub: the fault flags shape the embedded stubs only; with every
// service at an external address they did nothing, silently, and a run meant as a brownout
// measured healthy services. They are a usage error then, as -outage is.
func TestStubFlagsNeedAnEmbeddedStub(t *testing.T) {
	external := []string{"-liveness", "127.0.0.1:1", "-facematch", "127.0.0.1:1", "-ocr", "127.0.0.1:1"}
	for _, fl := range [][]string{{"-fail", "unavailable=0.2"}, {"-latency", "1s"}, {"-spike-rate", "0.5"}, {"-spike", "1s"}, {"-pushback", "1s"}, {"-capacity", "4"}} {
		var stderr bytes.Buffer
		args := append(append([]string{}, external...), fl...)
		err := run(context.Background(), append(args, "-n", "0"), new(bytes.Buffer), &stderr)
		if !errors.Is(err, app.ErrUsage) {
			t.Errorf("%v with every service external: err %v, want a usage error", fl, err)
			continue
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); !strings.Contains(first, fl[0]) || !strings.Contains(first, "embedded") {
			t.Errorf("%v: first line %q, want the flag and why", fl, first)
		}
	}
	// One embedded stub is enough for them to mean something.
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-liveness", "127.0.0.1:1", "-fail", "unavailable=0.2", "-explain"}, new(bytes.Buffer), &stderr)
	if err != nil {
		t.Errorf("-fail with an embedded stub: %v\n%s", err, stderr.String())
	}
}
