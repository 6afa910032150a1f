package config_test

import (
	"errors"
	"testing"
	"unicode/utf16"

	"github.com/bulwarkrpc/bulwark/config"
)

// utf16Bytes encodes s as UTF-16 with a byte order mark, little or big endian, as Windows
// tools write a text file.
func utf16Bytes(s string, bigEndian bool) []byte {
	out := []byte{0xff, 0xfe}
	if bigEndian {
		out = []byte{0xfe, 0xff}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// TestUTF16SyntaxErrorLine: YAML reads a file in UTF-16 with a byte order mark (what Windows
// PowerShell's > writes), and such a file loads, but a syntax error in it was always reported
// at line 1: the search for the line of the mistake cut the file into lines at '\n' bytes,
// which splits UTF-16 characters, so that no prefix parsed. It is reported at the same line
// as in the UTF-8 file.
func TestUTF16SyntaxErrorLine(t *testing.T) {
	const text = "budget: 5s\nprofiles:\n  p:\n    retry: {max_attempts: 2\n  q: {}\n"
	_, _, err := config.Parse("utf8.yaml", []byte(text))
	var want *config.Error
	if !errors.As(err, &want) || want.Line != 4 {
		t.Fatalf("UTF-8: Parse = %v, want a syntax error at line 4", err)
	}
	for _, big := range []bool{false, true} {
		_, _, err := config.Parse("utf16.yaml", utf16Bytes(text, big))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Line != want.Line || ce.Rule != want.Rule {
			t.Errorf("UTF-16 (big endian %v): Parse = %v, want at line %d: %s", big, err, want.Line, want.Rule)
		}
	}
	// And the file loads when it is right.
	if _, _, err := config.Parse("utf16.yaml", utf16Bytes("budget: 5s\n", false)); err != nil {
		t.Fatalf("UTF-16: %v", err)
	}
}
