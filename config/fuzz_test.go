package config_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// FuzzLoad checks that Parse never panics, that it returns either a valid configuration or
// located errors, and that a configuration it accepts resolves and explains.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"examples/kyc.yaml", "examples/strict.yaml", "builtin.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, b := range badInputs {
		f.Add([]byte(b.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			if cfg != nil || warns != nil {
				t.Fatal("config or warnings returned with an error")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		for _, p := range cfg.Policies() {
			_ = p.WorstCase().Cut()
			if _, err := p.NewClassifier(); err != nil {
				t.Fatalf("%s: classifier: %v", p.FullMethod(), err)
			}
		}
		if err := config.Explain(&bytes.Buffer{}, cfg); err != nil {
			t.Fatal(err)
		}
	})
}
