package hedge_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
)

// TestExplainDoesNotPromiseABudget: a Config does not know whether its hedges draw on a retry
// budget: a Policy does only with WithBudget, which the suite passes only when the chain's
// retry step has one (retry.Policy.Budget is not nil). Explain said "draws on the retry
// budget" unconditionally, untrue of a policy built alone or beside a retry step without a
// throttle, whose hedges are bounded by MaxAttempts and the allowance of losing hedges alone.
func TestExplainDoesNotPromiseABudget(t *testing.T) {
	got := hedge.Normalize(hedge.Config{}).Explain()
	if strings.Contains(got, "; draws on the retry budget;") {
		t.Errorf("Explain() = %q, says it draws on the retry budget whatever the chain", got)
	}
	if !strings.Contains(got, "without one, bounded by max_attempts and the allowance of losing hedges alone") {
		t.Errorf("Explain() = %q, want it to say what bounds the hedges without a retry budget", got)
	}
}
