package codes_test

import (
	"os"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// docTable returns the rows of the table under heading in doc.go, each split into fields.
func docTable(t *testing.T, heading string) [][]string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "// # "+heading:
			in = true
		case !in:
		case strings.HasPrefix(line, "// # "):
			return rows
		case strings.HasPrefix(line, "//\t"):
			rows = append(rows, strings.Fields(strings.TrimPrefix(line, "//\t")))
		}
	}
	if !in {
		t.Fatalf("doc.go has no heading %q", heading)
	}
	return rows
}

// The package documentation's tables are what the classifier does: each class's retried and
// breaker columns, and the default class of every code (a row's continuation lines aside).
func TestDocTablesHold(t *testing.T) {
	classes := docTable(t, "Classes")
	if len(classes) != len(codes.Classes())+1 {
		t.Fatalf("Classes table has %d rows, want a header and %d classes", len(classes), len(codes.Classes()))
	}
	for _, row := range classes[1:] {
		c, err := codes.ParseClass(row[0])
		if err != nil {
			t.Fatalf("Classes row %q: %v", row, err)
		}
		retried := map[bool]string{true: "yes", false: "no"}[c.Retryable()]
		breaker := "success"
		switch {
		case c.Failure():
			breaker = "failure"
		case c.Ignored():
			breaker = "ignored"
		}
		if row[1] != retried || row[2] != breaker {
			t.Errorf("doc says %s: retried %s, breaker %s; the class says %s, %s", row[0], row[1], row[2], retried, breaker)
		}
	}

	byName := map[string]grpccodes.Code{}
	for code := grpccodes.OK; code <= grpccodes.Unauthenticated; code++ {
		byName[code.String()] = code
	}
	seen := map[grpccodes.Code]bool{}
	other := false
	for _, row := range docTable(t, "Default table")[1:] {
		if row[0] == "above" {
			// The row "above 16": the codes past Unauthenticated, which a server may send.
			other = true
			for _, code := range []grpccodes.Code{17, 99, 1 << 31} {
				if got := codes.Default().Classify(status.Error(code, "x")).Class.String(); got != row[2] {
					t.Errorf("doc says codes above Unauthenticated are %s; Classify(%v) = %s", row[2], code, got)
				}
			}
			continue
		}
		code, ok := byName[row[0]]
		if !ok {
			continue // a continuation line
		}
		seen[code] = true
		var err error
		if code != grpccodes.OK {
			err = status.Error(code, "x")
		}
		if got := codes.Default().Classify(err).Class.String(); got != row[1] {
			t.Errorf("doc says %v is %s; Classify = %s", code, row[1], got)
		}
	}
	if len(seen) != len(byName) || !other {
		t.Errorf("Default table names %d of %d codes (row for the others: %v)", len(seen), len(byName), other)
	}
}
