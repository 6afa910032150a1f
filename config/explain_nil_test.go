package config_test

import (
	"bytes"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestExplainNilIsBuiltin: Explain of a nil configuration explains config.Builtin(), as
// interceptors.New builds it for nil, instead of panicking.
func TestExplainNilIsBuiltin(t *testing.T) {
	var got, want bytes.Buffer
	if err := config.Explain(&got, nil); err != nil {
		t.Fatalf("Explain(nil) = %v", err)
	}
	if err := config.Explain(&want, config.Builtin()); err != nil {
		t.Fatalf("Explain(Builtin()) = %v", err)
	}
	if got.Len() == 0 || got.String() != want.String() {
		t.Errorf("Explain(nil) wrote %d bytes unlike Explain(Builtin())'s %d", got.Len(), want.Len())
	}
}
