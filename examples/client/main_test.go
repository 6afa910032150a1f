package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemoSucceedsAfterRetries(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), nil, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if got := stdout.String(); got != "SERVING after 3 attempts\n" {
		t.Errorf("stdout %q", got)
	}
}

func TestUnreachableFailsWithAttempts(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	err = run(context.Background(), []string{"-addr", addr}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "Unavailable") {
		t.Errorf("err %v: want Unavailable after 3 attempts", err)
	}
}

// Regression: a bad flag printed the error twice (by the flag package with the whole usage,
// then by main) and extra arguments were ignored; each is now one line and a hint, and a
// usage error, which main exits 2 for.
func TestUsageErrors(t *testing.T) {
	for args, want := range map[string]string{
		"-bogus":        "client: flag provided but not defined: -bogus\n",
		"localhost:443": "client: unexpected argument \"localhost:443\": the address goes in -addr\n",
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), strings.Fields(args), new(bytes.Buffer), &stderr)
		if !errors.Is(err, errUsage) || stderr.String() != want+"Run 'client -h' for the flags.\n" {
			t.Errorf("run %s = %v, stderr %q; want a usage error and %q and the hint", args, err, stderr.String(), want)
		}
	}
}

// Regression: the output for a server that answers at once, the usual case for -addr, read
// "SERVING after 1 attempts", and a call whose retries ran out said its attempts twice,
// "after 3 attempts: ... (after 3 attempts, max_attempts)", once from the retry policy's
// error and once from the client.
func TestAttemptsSaidOnceAndInTheSingular(t *testing.T) {
	addr, stop, err := demoServer(0)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-addr", addr}, &stdout, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "SERVING after 1 attempt\n" {
		t.Errorf("stdout %q, want %q", got, "SERVING after 1 attempt\n")
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := lis.Addr().String()
	_ = lis.Close()
	err = run(context.Background(), []string{"-addr", closed}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || strings.Count(err.Error(), "after 3 attempts") != 1 {
		t.Errorf("err %v: want the attempts said once", err)
	}
}
