package fallback_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
)

// TestExplainIsOneLine: Explain is one line (a row of config.Explain's table) even when
// reply_json is written over several lines, as a YAML block scalar makes it; it used to carry
// the JSON's line breaks into the table.
func TestExplainIsOneLine(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{"{\n  \"confidence\": 0.1,\n  \"fields\": {\"documentNumber\": \"A  B\"}\n}\n", `reply {"confidence":0.1,"fields":{"documentNumber":"A  B"}}`},
		{"{\n  not json\n", `reply "{\n  not json\n"`},
		{`{"confidence": 0.1}`, `reply {"confidence": 0.1}`},
	} {
		got := fallback.Normalize(fallback.Config{ReplyJSON: tt.json}).Explain()
		if strings.ContainsAny(got, "\n\r") || !strings.HasSuffix(got, tt.want) {
			t.Errorf("Explain = %q, want one line ending in %q", got, tt.want)
		}
	}
}

// TestExplainFillsInTheDefaults: Explain of a Config that names neither classes nor codes
// names the default classes, as its doc says; it used to say "on " and nothing more unless the
// caller had run Normalize first.
func TestExplainFillsInTheDefaults(t *testing.T) {
	const want = "on transient, throttled, server_fault, rejected"
	for _, c := range []fallback.Config{{}, fallback.Normalize(fallback.Config{})} {
		if got := c.Explain(); got != want {
			t.Errorf("Explain of %+v = %q, want %q", c, got, want)
		}
	}
	if got, want := (fallback.Config{OnCodes: []string{"UNAVAILABLE"}}).Explain(), "on UNAVAILABLE"; got != want {
		t.Errorf("Explain = %q, want %q", got, want)
	}
}
