package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestTaggedDurationRefused: a duration tagged !!int or !!float was refused ("a duration takes
// no tag"), but any other tag was dropped and the text read as a duration: budget: !!bool 5s
// and !!binary 5s (whose base64 is not 5s) loaded as 5s, while !!binary NXM= (the base64 of 5s)
// was "not a duration" without a word about the tag. Every tag but !!str is refused alike.
func TestTaggedDurationRefused(t *testing.T) {
	for _, tag := range []string{"!!bool", "!!binary", "!!timestamp", "!duration"} {
		t.Run(tag, func(t *testing.T) {
			data := "profiles:\n  p:\n    retry:\n      initial_backoff: " + tag + " 5s\n"
			_, _, err := config.Parse("tag.yaml", []byte(data))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want %s 5s refused", err, tag)
			}
			rule := "is tagged " + tag + ": a duration takes no tag (such as 500ms or 2s)"
			if ce.Path != "profiles.p.retry.initial_backoff" || ce.Line != 4 || ce.Value != tag+" 5s" || ce.Rule != rule {
				t.Fatalf("error %q, want at line 4 profiles.p.retry.initial_backoff: %s 5s %s", ce, tag, rule)
			}
		})
	}
	cfg, _, err := config.Parse("ok.yaml", []byte("budget: !!str 5s\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.Budget.String() != "5s" {
		t.Fatalf("budget %v, want 5s", cfg.Budget)
	}
}
