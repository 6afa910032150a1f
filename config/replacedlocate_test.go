package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// TestReplacedProfileErrorsInFile: a profile in the file replaces the built-in profile of its
// name as a whole, but an error at a field the file's profile does not write was located
// where the replaced built-in profile wrote that field: hedge: {window: -1} in a file's ml
// profile gave, besides the window's own error, "builtin.yaml:69:
// profiles.ml.hedge.min_samples: 0 is above window (-1)", sending the reader to a file they
// did not write and to a value no longer in effect. Every error of the file's profile is
// located in the file.
func TestReplacedProfileErrorsInFile(t *testing.T) {
	_, _, err := config.Parse("mine.yaml", []byte("profiles:\n  ml:\n    hedge: {window: -1}\n"))
	if err == nil {
		t.Fatal("Parse accepted a negative hedge.window")
	}
	for _, e := range fielderr.Flatten(err) {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v is not a *config.Error", e)
		}
		if ce.File != "mine.yaml" || ce.Line != 3 {
			t.Errorf("error %q, want it at mine.yaml:3, where the file's ml writes hedge", ce)
		}
	}
}
