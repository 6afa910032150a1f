package promobs_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
)

// Regression: a nil Option made New panic with a nil pointer dereference; it is ignored.
func TestNewIgnoresANilOption(t *testing.T) {
	var unset promobs.Option
	if _, err := promobs.New(prometheus.NewRegistry(), unset); err != nil {
		t.Fatal(err)
	}
}
