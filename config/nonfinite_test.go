package config_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// Every number field of the built-in profiles' sections set, through the Go API (YAML refuses
// non-finite numbers as it reads them), to +Inf, -Inf or NaN makes Validate report one error,
// naming that field and its value: one bad value is one rule broken, not also the rules a
// finite value out of range would break beside it.
func TestValidateNonFiniteOneError(t *testing.T) {
	for _, name := range []string{"ml", "fast", "ocr"} {
		cfg := &config.Config{Budget: 8 * time.Second, Profiles: map[string]config.Profile{"p": config.Builtin().Profiles[name]}}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s as it is: %v", name, err)
		}
		p := cfg.Profiles["p"]
		v := reflect.ValueOf(&p).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.Struct {
				nonFinite(t, cfg, "profiles.p."+yamlKey(v.Type().Field(i)), f.Elem())
			}
		}
	}
}

// nonFinite sets each float64 field of s, and of the sections s points to, to each non-finite
// value in turn, and checks the one error cfg.Validate reports.
func nonFinite(t *testing.T, cfg *config.Config, path string, s reflect.Value) {
	t.Helper()
	for i := range s.NumField() {
		f, key := s.Field(i), path+"."+yamlKey(s.Type().Field(i))
		switch {
		case f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.Struct:
			nonFinite(t, cfg, key, f.Elem())
		case f.Kind() == reflect.Float64:
			was := f.Float()
			for _, x := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
				f.SetFloat(x)
				err := cfg.Validate()
				if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), key+": "+fmtFloat(x)+" ") {
					t.Errorf("%s = %v: Validate = %v, want one error naming the field and the value", key, x, err)
				}
			}
			f.SetFloat(was)
		}
	}
}

func yamlKey(f reflect.StructField) string { return strings.Split(f.Tag.Get("yaml"), ",")[0] }

func fmtFloat(x float64) string {
	switch {
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return "NaN"
}
