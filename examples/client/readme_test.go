package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestREADMESnippetCompiles (issue 19 item 8): the Go snippet of the repository's README is a
// whole main.go: pasted into a file of its own, it builds.
func TestREADMESnippetCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	snippet := readmeSnippet(t)
	// A directory starting with _ inside the module: the build sees the module's
	// dependencies, and ./... never does.
	dir, err := os.MkdirTemp(".", "_readme")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), snippet, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goBin, "build", "-o", os.DevNull, "./"+dir).CombinedOutput()
	if err != nil {
		t.Errorf("the README snippet does not build: %v\n%s\n%s", err, out, snippet)
	}
}

// TestREADMESnippetScrapesTheSuite: the README's snippet, which gives promobs' metrics to the
// suite, also registers the suite with them as a level source (Metrics.Scrape). Events alone
// make no bulwark_bulkhead_in_flight, bulwark_bulkhead_capacity or
// bulwark_adaptive_throttle_probability series, so a program copied from the snippet without
// it shows empty bulkhead and throttle panels on observability/dashboard.json, and
// BulwarkBulkheadSaturated and BulwarkAdaptiveThrottleRejecting can never fire.
func TestREADMESnippetScrapesTheSuite(t *testing.T) {
	snippet := string(readmeSnippet(t))
	metrics := regexp.MustCompile(`(\w+), err := promobs\.New\(`).FindStringSubmatch(snippet)
	suite := regexp.MustCompile(`(\w+), err := interceptors\.New\(`).FindStringSubmatch(snippet)
	if metrics == nil || suite == nil {
		t.Fatalf("the README snippet makes no promobs metrics or no suite:\n%s", snippet)
	}
	if call := metrics[1] + ".Scrape(" + suite[1] + ")"; !strings.Contains(snippet, call) {
		t.Errorf("the README snippet gives promobs' metrics to the suite but does not call %s: no bulkhead or throttle gauges\n%s", call, snippet)
	}
}

// readmeSnippet returns the README's first Go snippet.
func readmeSnippet(t *testing.T) []byte {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no Go snippet")
	}
	return m[1]
}

// TestREADMEOwnServiceConfigRetries: the README's configuration for one's own service
// ("For your own service, name it in a configuration (`...`)") retries a transient failure of
// a method whose descriptor declares no idempotency_level, as most services' methods are. The
// retry policy retries only methods safe to repeat, so `{profile: fast}` alone retried
// nothing, and the README did not say so.
func TestREADMEOwnServiceConfigRetries(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("For your own service, name it in a configuration[^`]*`([^`]*)`").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README names no configuration for one's own service")
	}
	cfg, _, err := config.Parse("README.md", m[1])
	if err != nil {
		t.Fatalf("the README's configuration %q: %v", m[1], err)
	}
	services := cfg.ServiceNames()
	var service string
	for _, s := range services {
		if !strings.HasPrefix(s, "kyc.v1.") {
			service = s
		}
	}
	if service == "" {
		t.Fatalf("the README's configuration %q names no service of one's own: %v", m[1], services)
	}
	retried := make(chan struct{})
	var once sync.Once
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.RetryScheduled {
			once.Do(func() { close(retried) })
		}
	})
	// The fake clock never moves: the retry is seen scheduled, then the call canceled.
	suite, err := interceptors.New(cfg, interceptors.WithObserver(sink),
		interceptors.WithClock(clocktest.New(time.Time{})), interceptors.WithRand(func() float64 { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = suite.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		calls.Add(1)
		return status.Error(grpccodes.Unavailable, "down")
	}
	method := "/" + service + "/Get"
	done := make(chan error, 1)
	go func() { done <- suite.Unary()(ctx, method, nil, nil, nil, invoker) }()
	select {
	case <-retried:
		cancel()
		t.Logf("the call, canceled: %v", <-done)
	case err := <-done:
		t.Errorf("with the README's configuration %q, %s failed with %v after %d attempt, not retried", m[1], method, err, calls.Load())
	}
}
