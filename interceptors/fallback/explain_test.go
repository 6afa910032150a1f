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
