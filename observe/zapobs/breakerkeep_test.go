package zapobs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap/zapcore"
)

// A breaker whose method name is exactly observe.MaxKeptName bytes long is kept; one a byte
// longer is not, whatever its service's length: the rule is "longer than", for either name.
func TestBreakerFieldMethodNameBound(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int // the method name's length
		want string
	}{
		{"at the bound", observe.MaxKeptName, "open"},
		{"past the bound", observe.MaxKeptName + 1, noBreaker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := observed(zapcore.DebugLevel)
			method := "/" + ocr + "/" + strings.Repeat("m", tc.n-len(ocr)-2)
			if len(method) != tc.n {
				t.Fatalf("method of %d bytes, want %d", len(method), tc.n)
			}
			s.Observe(changed(ocr, method, "open", at))
			s.Observe(call(full(observe.RetryScheduled), ocr, method))
			if got := breakerOf(t, logs, zapobs.MsgRetryScheduled); got != tc.want {
				t.Errorf("method-scoped breaker of a %d-byte method: breaker = %q; want %q", tc.n, got, tc.want)
			}
		})
	}
}

// The Retired event of a service's overflow chain's breaker ("/<service>/*") forgets its
// state: the calls it served have no breaker field after it (none of the service's own).
func TestBreakerFieldOverflowChainRetired(t *testing.T) {
	const face = "kyc.v1.FaceMatchService"
	s, logs := observed(zapcore.DebugLevel)
	retry := func() string {
		t.Helper()
		s.Observe(call(full(observe.RetryScheduled), face, "/"+face+"/Unlisted"))
		return breakerOf(t, logs, zapobs.MsgRetryScheduled)
	}
	s.Observe(changed(face, "/"+face+"/*", "open", at))
	if got := retry(); got != "open" {
		t.Fatalf("overflow chain's breaker open: breaker = %q; want open", got)
	}
	s.Observe(retired(face, "/"+face+"/*", at.Add(time.Second)))
	if got := retry(); got != noBreaker {
		t.Errorf("overflow chain's breaker retired: breaker = %q; want none", got)
	}
}
