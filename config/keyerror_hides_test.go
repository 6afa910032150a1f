package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestKeyErrorHidesNothing: Parse leaves out what Validate says at the path of a value that
// could not be decoded, but an unknown or repeated key is reported at the path of the mapping
// that holds it, whose value was decoded: a typo'd key in a service hid that the service's
// name is not fully qualified, and one in a profile that its name is not a profile name,
// though every problem found is reported.
func TestKeyErrorHidesNothing(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"services:\n  OCRService: {profle: ocr}\n", `services.OCRService: "OCRService" is not a fully qualified service name`},
		{"profiles:\n  'bad name': {retyr: {}}\n", `profiles."bad name": "bad name" is not a profile name`},
		{"profiles:\n  'bad name': {retry: {}, retry: {}}\n", `profiles."bad name": "bad name" is not a profile name`},
	} {
		_, _, err := config.Parse("keys.yaml", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), "is not a key of") && !strings.Contains(err.Error(), "written twice") {
			t.Fatalf("Parse(%q) = %v, want the key refused", tc.data, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v\nwant also %s", tc.data, err, tc.want)
		}
	}
}

// TestUndecodedEntryHidesNotItsName: a profile, service or method whose value is not a
// mapping hid the error about its name, which Validate reports at the same path: services:
// {OCRService: ml} said only that ml is not a mapping, and the name was refused only once
// that was fixed.
func TestUndecodedEntryHidesNotItsName(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"services:\n  OCRService: ml\n", `services.OCRService: "OCRService" is not a fully qualified service name`},
		{"profiles:\n  'bad name': [retry]\n", `profiles."bad name": "bad name" is not a profile name`},
		{"services:\n  a.v1.B:\n    methods:\n      2M: fast\n", `services."a.v1.B".methods.2M: "2M" is not a method name`},
	} {
		_, _, err := config.Parse("entry.yaml", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), "is not a mapping of") {
			t.Fatalf("Parse(%q) = %v, want the value refused", tc.data, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v\nwant also %s", tc.data, err, tc.want)
		}
	}
}
