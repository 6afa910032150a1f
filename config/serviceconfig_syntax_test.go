package config_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestServiceConfigSyntaxErrorSaysWhere: a service config that is not JSON was reported in
// encoding/json's words alone ("invalid character 's' after object key:value pair"), with
// no place in the document. The error is a *config.SyntaxError naming the line, the column
// in bytes and the byte offset of the mistake, with an excerpt of its line, bounded; it still
// unwraps to encoding/json's *json.SyntaxError.
func TestServiceConfigSyntaxErrorSaysWhere(t *testing.T) {
	long := `{"methodConfig": [{"name": [{"service": "a.v1.S"}], "retryPolicy": {"maxAttempts": 3 "initialBackoff": "1s"}}]}`
	at := strings.Index(long, `3 "`) + 2 // the quote after 3, a missing comma
	for _, tt := range []struct {
		doc                  string
		line, column, offset int
		want                 string
	}{
		{`{"methodConfig": [{"name": [{"service": "a.S"}], "timeout": "1s",}]}`, 1, 66, 65,
			"sc.json: not a gRPC service config: invalid JSON at line 1, column 66 (byte offset 65): invalid character '}' looking for beginning of object key string, in `..." + `{"service": "a.S"}], "timeout": "1s",}]}` + "`"},
		{"{\n  \"methodConfig\": [{\n    \"timeout\": 1s,\n    \"name\": [{}]\n  }]\n}", 3, 17, 39,
			"sc.json: not a gRPC service config: invalid JSON at line 3, column 17 (byte offset 39): invalid character 's' after object key:value pair, in `" + `"timeout": 1s,` + "`"},
		{long, 1, at + 1, at,
			"sc.json: not a gRPC service config: invalid JSON at line 1, column 86 (byte offset 85): invalid character '\"' after object key:value pair, in `..." + strings.TrimSpace(long[at-20:at+20]) + "...`"},
		{"{\"methodConfig\": [\n  {\"name\": [{}]", 2, 16, 34,
			"sc.json: not a gRPC service config: unexpected end of the document at line 2, column 16 (byte offset 34), in `" + `{"name": [{}]` + "`"},
		{"", 1, 1, 0, "sc.json: not a gRPC service config: unexpected end of the document at line 1, column 1 (byte offset 0)"},
		{"{} \x01x", 1, 4, 3, "sc.json: not a gRPC service config: invalid JSON at line 1, column 4 (byte offset 3): invalid character '\\x01' after top-level value, in `{} \\x01x`"},
	} {
		_, _, err := config.ParseServiceConfig("sc.json", []byte(tt.doc))
		var se *config.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v (%T), want a *config.SyntaxError", tt.doc, err, err)
			continue
		}
		if se.File != "sc.json" || se.Line != tt.line || se.Column != tt.column || se.Offset != int64(tt.offset) || err.Error() != tt.want {
			t.Errorf("%q: %s at line %d, column %d, offset %d:\n got %s\nwant %s", tt.doc, se.File, se.Line, se.Column, se.Offset, err, tt.want)
		}
		if len(se.Excerpt) > 40+2*len("...")+4*3 { // 40 bytes, the cuts, a few escapes
			t.Errorf("%q: excerpt %q is longer than 40 bytes and its marks", tt.doc, se.Excerpt)
		}
		if !errors.As(err, new(*json.SyntaxError)) {
			t.Errorf("%q: %v does not unwrap to a *json.SyntaxError", tt.doc, err)
		}
		if !strings.Contains(err.Error(), "not a gRPC service config") {
			t.Errorf("%q: %v does not say it is not a service config", tt.doc, err)
		}
	}
}
