package fallback_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
)

// TestValidateRefusesSuccess: a success is never replaced, so a fallback on the success class
// or the code OK answers nothing; with on_codes or on_classes set, the default classes no
// longer apply either, and the fallback is silently off. Validate used to accept both.
func TestValidateRefusesSuccess(t *testing.T) {
	tests := []struct {
		name string
		cfg  fallback.Config
		want string
	}{
		{"code OK", fallback.Config{OnCodes: []string{"UNAVAILABLE", "OK"}}, `on_codes[1]: "OK" `},
		{"class success", fallback.Config{OnClasses: []codes.Class{codes.Success}}, "on_classes[0]: success "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error at %q", err, tt.want)
			}
		})
	}
}
