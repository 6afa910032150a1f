package zapobs_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
)

// Regression: a nil Option made New panic with a nil pointer dereference; it is ignored.
func TestNewIgnoresANilOption(t *testing.T) {
	var unset zapobs.Option
	if zapobs.New(zap.NewNop(), unset) == nil {
		t.Fatal("New = nil")
	}
}
