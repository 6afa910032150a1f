package config_test

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// TestNilConfigIsBuiltin: every method of Config reads a nil *Config as config.Builtin(), as
// Explain and interceptors.New do, instead of panicking; UnmarshalYAML, which has nowhere to
// decode into, returns an error that says so.
func TestNilConfigIsBuiltin(t *testing.T) {
	var nilCfg *config.Config
	b := config.Builtin()
	const method = "/kyc.v1.OCRService/Extract"
	errString := func(err error) string {
		if err == nil {
			return "<nil>"
		}
		return err.Error()
	}
	known := config.KnownNames{"kyc.v1.OCRService": {"Extract"}}
	declares := func(s, m string) bool { return true }
	fieldErr := fielderr.New("max_attempts", 4, "is too many")
	for _, tc := range []struct {
		name string
		got  func(c *config.Config) any
	}{
		{"Resolve", func(c *config.Config) any { return c.Resolve(method) }},
		{"ResolveService", func(c *config.Config) any { return c.ResolveService("kyc.v1.FaceMatchService") }},
		{"ServiceNames", func(c *config.Config) any { return c.ServiceNames() }},
		{"MethodNames", func(c *config.Config) any { return c.MethodNames("kyc.v1.OCRService") }},
		{"ProfileNames", func(c *config.Config) any { return c.ProfileNames() }},
		{"Policies", func(c *config.Config) any { return c.Policies() }},
		{"Warnings", func(c *config.Config) any { return c.Warnings() }},
		{"Validate", func(c *config.Config) any { return errString(c.Validate()) }},
		{"CheckNames", func(c *config.Config) any { return errString(c.CheckNames("f.yaml", known, nil)) }},
		{"CheckMethodKeys", func(c *config.Config) any { return errString(c.CheckMethodKeys("f.yaml", declares)) }},
		{"LocateSectionError", func(c *config.Config) any {
			return errString(c.LocateSectionError(method, config.Section("retry"), fieldErr))
		}},
		{"Clone", func(c *config.Config) any { return c.Clone().Resolve(method) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("on a nil *Config: panic: %v", r)
					}
				}()
				got = tc.got(nilCfg)
			}()
			if want := tc.got(b); !reflect.DeepEqual(got, want) {
				t.Errorf("on a nil *Config = %v, want Builtin()'s %v", got, want)
			}
		})
	}
	if len(nilCfg.ServiceNames()) == 0 || nilCfg.Resolve(method).ProfileName != "ocr" {
		t.Errorf("a nil *Config has services %v and resolves %s on profile %q, want Builtin()'s (ocr)",
			nilCfg.ServiceNames(), method, nilCfg.Resolve(method).ProfileName)
	}
	if got := nilCfg.LocateSectionError(method, config.Section("retry"), fieldErr); got == nil {
		t.Errorf("LocateSectionError on a nil *Config = nil, want the built-in ocr profile's max_attempts located")
	}

	var n yaml.Node
	if err := yaml.Unmarshal([]byte("budget: 5s\n"), &n); err != nil {
		t.Fatal(err)
	}
	err := nilCfg.UnmarshalYAML(n.Content[0])
	if err == nil || !strings.Contains(err.Error(), "nil *Config") {
		t.Errorf("UnmarshalYAML on a nil *Config = %v, want an error naming the nil *Config", err)
	}
}
