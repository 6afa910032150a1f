package interceptors_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
)

// Regression: a nil Option (one a program leaves unset on some path) made New panic with a
// nil pointer dereference; it is ignored.
func TestNewIgnoresANilOption(t *testing.T) {
	var unset interceptors.Option
	s, err := interceptors.New(config.Builtin(), unset, interceptors.WithUnlistedLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
}
