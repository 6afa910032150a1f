package codes_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
)

// docBlock returns the lines of doc.go's section headed heading, up to the next heading.
func docBlock(t *testing.T, heading string) []string {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "// # "+heading+"\n")
	if !ok {
		t.Fatalf("doc.go has no heading %q", heading)
	}
	block, _, _ := strings.Cut(rest, "// # ")
	return strings.Split(block, "\n")
}

// TestDocDefaultTable: the package documentation's "Default table" gives every gRPC code the
// class Default gives it.
func TestDocDefaultTable(t *testing.T) {
	row := regexp.MustCompile(`^//\t([A-Z][A-Za-z]+) +([a-z_]+)`)
	byName := map[string]grpccodes.Code{}
	for c := grpccodes.OK; c <= grpccodes.Unauthenticated; c++ {
		byName[c.String()] = c
	}
	seen := map[grpccodes.Code]bool{}
	for _, line := range docBlock(t, "Default table") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		code, ok := byName[m[1]]
		if !ok {
			t.Errorf("doc.go's default table names %q, not a gRPC code", m[1])
			continue
		}
		seen[code] = true
		if got := codes.Default().ClassOf(code); got.String() != m[2] {
			t.Errorf("doc.go's default table: %v is %s; Default classes it %s", code, m[2], got)
		}
	}
	for _, c := range byName {
		if !seen[c] {
			t.Errorf("doc.go's default table leaves out %v", c)
		}
	}
}

// TestDocClassesTable: the package documentation's "Classes" table says of each class what
// Retryable, Failure and Ignored say.
func TestDocClassesTable(t *testing.T) {
	row := regexp.MustCompile(`^//\t([a-z_]+) +(yes|no) +(success|failure|ignored) `)
	seen := 0
	for _, line := range docBlock(t, "Classes") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cl, err := codes.ParseClass(m[1])
		if err != nil {
			t.Errorf("doc.go's classes table: %v", err)
			continue
		}
		seen++
		if got := cl.Retryable(); got != (m[2] == "yes") {
			t.Errorf("doc.go's classes table: %s retried %s; Retryable() is %v", m[1], m[2], got)
		}
		breaker := "success"
		if cl.Failure() {
			breaker = "failure"
		} else if cl.Ignored() {
			breaker = "ignored"
		}
		if breaker != m[3] {
			t.Errorf("doc.go's classes table: %s is a breaker %s; Failure and Ignored make it %s", m[1], m[3], breaker)
		}
	}
	if want := 7; seen != want {
		t.Errorf("doc.go's classes table has %d classes, want %d", seen, want)
	}
}
