package config_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// methodBlock returns the lines of cfg's explanation under the method entry named header
// ("  method Special (/svc/Special)").
func methodBlock(t *testing.T, cfg *config.Config, header string) string {
	t.Helper()
	var b bytes.Buffer
	if err := config.Explain(&b, cfg); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	in := false
	for line := range strings.Lines(b.String()) {
		switch {
		case strings.HasPrefix(line, header):
			in = true
		case in && !strings.HasPrefix(line, "    "):
			in = false
		}
		if in {
			out.WriteString(line)
		}
	}
	return out.String()
}

// checkSharedNote parses yml and checks that -explain says, in the block of the method entry
// shared (a method sharing its service's object of section sec with a classifier of its own),
// that the object is the service's and judges by this method's classifier, and says nothing
// of the kind in the blocks of the method entries apart.
func checkSharedNote(t *testing.T, yml, sec, shared string, apart ...string) {
	t.Helper()
	cfg, _, err := config.Parse("shared.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	const note = "this method's classifier"
	if got := methodBlock(t, cfg, shared); !strings.Contains(got, sec) || !strings.Contains(got, note) ||
		!strings.Contains(got, "the service's") {
		t.Errorf("-explain of %s, sharing its service's %s with a classifier of its own:\n%s\nwant a %s line saying it is the service's, judging by %s",
			strings.TrimSpace(shared), sec, got, sec, note)
	}
	for _, h := range apart {
		if got := methodBlock(t, cfg, h); strings.Contains(got, note) || strings.Contains(got, "service's classifier") {
			t.Errorf("-explain of %s:\n%s\nwant no line about %s", strings.TrimSpace(h), got, note)
		}
	}
}

// A method whose classifier differs from its service's but whose bulkhead does not shares the
// service's bulkhead, whose adaptive limit tells overload from the rest in the method's calls
// by the method's classifier (see package bulkhead's "Shared by a service's methods"):
// -explain says so under the method, where its classifier line alone would leave an operator
// guessing whether the service's bulkhead is the method's, and which classifier it uses. A
// method with a bulkhead of its own, and one sharing a fixed bulkhead (which classifies
// nothing), get no such line.
func TestExplainSharedAdaptiveBulkheadClassifier(t *testing.T) {
	checkSharedNote(t, `
profiles:
  p: {bulkhead: {max_concurrent: 8, adaptive: {algorithm: aimd}}}
  f: {bulkhead: {max_concurrent: 8}}
services:
  a.v1.Adaptive:
    profile: p
    methods:
      Special: {classifier: {codes: {UNAVAILABLE: business}}}
      Own: {classifier: {codes: {UNAVAILABLE: business}}, bulkhead: {max_concurrent: 16}}
  a.v1.Fixed:
    profile: f
    methods:
      Special: {classifier: {codes: {UNAVAILABLE: business}}}
`, "bulkhead", "  method Special (/a.v1.Adaptive/Special)", "  method Own (/a.v1.Adaptive/Own)", "  method Special (/a.v1.Fixed/Special)")
}

// Under breaker scope service, a method whose classifier differs from its service's but whose
// breaker does not goes through the service's breaker, which counts the method's outcomes as
// the method's classifier judges them: -explain says so under the method. A method with a
// breaker of its own, and one under scope method, get no such line.
func TestExplainSharedBreakerClassifier(t *testing.T) {
	checkSharedNote(t, `
profiles:
  p: {breaker: {consecutive_failures: 3}}
  m: {breaker: {scope: method}}
services:
  a.v1.Svc:
    profile: p
    methods:
      Special: {classifier: {codes: {UNAVAILABLE: business}}}
      Own: {classifier: {codes: {UNAVAILABLE: business}}, breaker: {consecutive_failures: 4}}
  a.v1.PerMethod:
    profile: m
    methods:
      Special: {classifier: {codes: {UNAVAILABLE: business}}}
`, "breaker", "  method Special (/a.v1.Svc/Special)", "  method Own (/a.v1.Svc/Own)", "  method Special (/a.v1.PerMethod/Special)")
}

// A method whose classifier differs from its service's but whose adaptive throttle does not
// goes through the service's throttle, which counts the method's outcomes as the method's
// classifier judges them: -explain says so under the method. A method with a throttle of its
// own gets no such line.
func TestExplainSharedThrottleClassifier(t *testing.T) {
	checkSharedNote(t, `
profiles:
  p: {adaptive_throttle: {k: 2}}
services:
  a.v1.Svc:
    profile: p
    methods:
      Special: {classifier: {codes: {UNAVAILABLE: business}}}
      Own: {classifier: {codes: {UNAVAILABLE: business}}, adaptive_throttle: {k: 1.5}}
`, "adaptive_throttle", "  method Special (/a.v1.Svc/Special)", "  method Own (/a.v1.Svc/Own)")
}
