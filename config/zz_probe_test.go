package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

func TestZZProbe(t *testing.T) {
	for _, src := range []string{
		"services:\n  kyc.v1.OCRService:\n    retry: {initial_backoff: 30s}\n",
		"profiles:\n  p:\n    retry: {initial_backoff: 30s, max_backoff: 10s}\n",
		"services:\n  kyc.v1.OCRService:\n    hedge: {min_delay: 5s}\n",
		"services:\n  kyc.v1.OCRService:\n    deadline: {default: 9s}\n",
		"services:\n  kyc.v1.OCRService:\n    retry: {per_attempt_timeout: 9s, budget: 5s}\n",
		"services:\n  kyc.v1.OCRService:\n    retry: {budget: 1s}\n",
	} {
		_, _, err := config.Parse("t.yaml", []byte(src))
		t.Logf("%q:\n%v", src, err)
	}
}
