// Package codename reads and writes gRPC code names as configuration spells them (UNAVAILABLE,
// DEADLINE_EXCEEDED), and tells a near miss of one, for the errors of every place that reads
// them: the classifier's codes, fallback.on_codes, a service config's retryable codes.
package codename

import (
	"strconv"
	"strings"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	grpccodes "google.golang.org/grpc/codes"
)

// names are the canonical gRPC code names, by code.
var names = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// Name returns the canonical name of c (UNAVAILABLE), or its number.
func Name(c grpccodes.Code) string {
	if int(c) < len(names) {
		return names[c]
	}
	return c.String()
}

// Parse returns the code whose canonical name is name, exactly as gRPC reads it (which refuses
// any other case).
func Parse(name string) (grpccodes.Code, bool) {
	for c, n := range names {
		if n == name {
			return grpccodes.Code(c), true
		}
	}
	return 0, false
}

// Rule is the rule a name that is no gRPC code name breaks, for a field error: with the name
// of the code it is the number of, or else it is a near miss of (see Near), else with an
// example.
func Rule(name string) string {
	// A code by its number, as a gRPC service config may give it.
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(names) {
		return "is a code's number: write its name, " + names[n]
	}
	if near := Near(name); near != "" {
		return "is not a gRPC code name (did you mean " + near + "?)"
	}
	return "is not a gRPC code name (such as UNAVAILABLE)"
}

// Near returns the canonical code name that name is a near miss of, or "": the same name in
// another case or with underscores left out or spelled as '-' or ' ' (Unavailable,
// deadline_exceeded, DeadlineExceeded), or, once so folded, within a few edits of one (a
// quarter of its length: UNAVAILABEL, deadline_exceed, CANCELED).
func Near(name string) string {
	n := fold(name)
	if n == "" {
		return ""
	}
	best, bestD := "", len(n)/4+1
	for _, c := range names {
		// The names' lengths differ by no more edits than it takes from one to the other:
		// a name that much longer is no near miss, whatever Distance says of it (it does not
		// measure names past 64 bytes, and says 99 of them).
		fc := fold(c)
		if abs(len(n)-len(fc)) >= bestD {
			continue
		}
		if d := fielderr.Distance(n, fc); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// fold is s in upper case without '_', '-' or ' '.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		return r
	}, strings.ToUpper(s))
}
