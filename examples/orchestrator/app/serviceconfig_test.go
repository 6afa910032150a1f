package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceConfigNamesChecked: the services and methods a -service-config's methodConfig
// names are checked against those this binary links, as -config's are. A misspelled name
// was taken as it stood: its timeout and retry policy applied to no call, without a word.
func TestServiceConfigNamesChecked(t *testing.T) {
	for _, tt := range []struct {
		name, want string
	}{
		{`{"service": "kyc.v1.OCRServce"}`, `"kyc.v1.OCRServce"`},
		{`{"service": "kyc.v1.OCRService", "method": "Extrct"}`, `"Extrct"`},
	} {
		path := filepath.Join(t.TempDir(), "sc.json")
		sc := `{"methodConfig": [{"name": [` + tt.name + `], "timeout": "1s"}]}`
		if err := os.WriteFile(path, []byte(sc), 0o600); err != nil {
			t.Fatal(err)
		}
		err := Run(context.Background(), []string{"-service-config", path, "-explain"}, new(bytes.Buffer), new(bytes.Buffer))
		if err == nil {
			t.Errorf("%s: a misspelled name in -service-config accepted", tt.name)
			continue
		}
		for _, w := range []string{"-service-config", path, tt.want, "kyc.v1.OCRService"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", tt.name, w, err)
			}
		}
	}
	// The names it links, and the whole-config entry (a name without a service), pass.
	path := filepath.Join(t.TempDir(), "sc.json")
	good := `{"methodConfig": [{"name": [{"service": "kyc.v1.OCRService", "method": "Extract"}, {"service": "kyc.v1.LivenessService"}], "timeout": "1s"},
		{"name": [{}], "timeout": "2s"}]}`
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), []string{"-service-config", path, "-explain"}, new(bytes.Buffer), new(bytes.Buffer)); err != nil {
		t.Errorf("known names refused: %v", err)
	}
}
