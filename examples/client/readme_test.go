package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
