package otelobs_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe/otelobs"
)

// Regression: a nil Option made New panic with a nil pointer dereference; it is ignored.
func TestNewIgnoresANilOption(t *testing.T) {
	var unset otelobs.Option
	if otelobs.New(unset) == nil {
		t.Fatal("New = nil")
	}
}
