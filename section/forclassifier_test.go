package section_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/section"
)

type forClassifierConfig struct {
	Size int `yaml:"size"`
}

// A ForClassifier without ServiceClassifier would never run (only a service's object shared
// across classifiers has chains to judge apart): Register refuses it rather than leave the
// section's author believing it does.
func TestForClassifierNeedsServiceClassifier(t *testing.T) {
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "ForClassifier without ServiceClassifier") {
			t.Errorf("Register of a ForClassifier without ServiceClassifier: panic %v, want one naming it", r)
		}
	}()
	section.Register(section.Spec[forClassifierConfig]{
		Key: "forclassifiertoy", Rank: 12345,
		ForClassifier: func(b section.Built, _ *codes.Classifier) section.Built { return b },
	})
}
