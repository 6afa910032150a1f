package codename

import (
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Parse reads a name exactly as grpc-go's Code.UnmarshalJSON does (every canonical name, no
// other case, no number), and Name writes what Parse reads.
func TestParseAsGRPC(t *testing.T) {
	for c := grpccodes.OK; c <= grpccodes.Unauthenticated; c++ {
		name := Name(c)
		for _, s := range []string{name, "x" + name, name[:1] + "x" + name[1:], strconv.Itoa(int(c)), "", " " + name} {
			var want grpccodes.Code
			wantOK := want.UnmarshalJSON([]byte(strconv.Quote(s))) == nil
			got, ok := Parse(s)
			if ok != wantOK || (ok && got != want) {
				t.Errorf("Parse(%q) = %v, %v; grpc reads %v, %v", s, got, ok, want, wantOK)
			}
		}
	}
	if got := Name(grpccodes.Code(99)); got != "Code(99)" {
		t.Errorf("Name(99) = %q", got)
	}
}

func TestNear(t *testing.T) {
	for name, want := range map[string]string{
		"UNAVAILABEL": "UNAVAILABLE", "deadline_exceed": "DEADLINE_EXCEEDED", "DeadlineExceeded": "DEADLINE_EXCEEDED",
		"Unavailable": "UNAVAILABLE", "CANCELED": "CANCELLED", "resource-exhausted": "RESOURCE_EXHAUSTED",
		"": "", "BANANA": "", "NOT_A_CODE_AT_ALL": "",
	} {
		if got := Near(name); got != want {
			t.Errorf("Near(%q) = %q, want %q", name, got, want)
		}
	}
	if got := Rule("UNAVAILABEL"); got != "is not a gRPC code name (did you mean UNAVAILABLE?)" {
		t.Errorf("Rule = %q", got)
	}
	if got := Rule("BANANA"); got != "is not a gRPC code name (such as UNAVAILABLE)" {
		t.Errorf("Rule = %q", got)
	}
}

// Regression: a name too long for fielderr.Distance to measure (it returns 99 for any name
// past 64 bytes) was taken for a near miss of OK once a quarter of its length passed 99, and
// its error said "did you mean OK?".
func TestNearLongName(t *testing.T) {
	for _, n := range []int{65, 200, 400, 1000} {
		name := strings.Repeat("Z", n)
		if got := Near(name); got != "" {
			t.Errorf("Near(%d Zs) = %q, want none", n, got)
		}
		if got := Rule(name); got != "is not a gRPC code name (such as UNAVAILABLE)" {
			t.Errorf("Rule(%d Zs) = %q", n, got)
		}
	}
}
