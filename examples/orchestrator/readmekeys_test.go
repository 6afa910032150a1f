package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestREADMEJSONExampleHasEveryKey: the README's -json example, of a run with -outage, shows
// every key such a run's summary has (trimmed objects read "{...}"), and the key table names
// each. The example lacked "outage", which the summary of an -outage run has had since it
// counted the requests the outage refused.
func TestREADMEJSONExampleHasEveryKey(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## `-json`.*?as emitted \\(`([^`]*)`.*?```json\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no -json example with its command line")
	}
	var shown map[string]json.RawMessage
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(m[2]), "{...}", "null")), &shown); err != nil {
		t.Fatalf("the README's -json example is not an object: %v", err)
	}
	sum := kyc.Summary{Services: map[string]kyc.ServiceStats{}}
	if strings.Contains(string(m[1]), "-outage ") {
		sum.Outage = &kyc.OutageReport{}
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		if _, ok := shown[k]; !ok {
			t.Errorf("the README's -json example (%s) lacks %q", m[1], k)
		}
		if !strings.Contains(string(readme), "`"+k+"`") {
			t.Errorf("the README's key table does not name %q", k)
		}
	}
}
