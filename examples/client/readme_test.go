package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no Go snippet")
	}
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
	if err := os.WriteFile(filepath.Join(dir, "main.go"), m[1], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goBin, "build", "-o", os.DevNull, "./"+dir).CombinedOutput()
	if err != nil {
		t.Errorf("the README snippet does not build: %v\n%s\n%s", err, out, m[1])
	}
}
