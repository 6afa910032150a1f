package hedge

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "hedge",
		Rank:      section.RankHedge,
		Normalize: Normalize,
		Explicit:  explicit,
		Uses:      func(Config) section.Uses { return section.UsesClassifier },
		Deps:      func(env *section.Env, _ Config) []any { return []any{retryBudget(env)} },
		Captures:  []section.Key{"retry"},
		CallSink:  func(sink observe.Sink) grpc.CallOption { return WithCallObserver(sink) },
		Build:     build,
	})
}

// explicit refuses a written percentile: 0 without a delay beside it: 0 makes the delay fixed
// only when there is a delay to fix, and alone it would silently mean the adaptive default.
func explicit(c Config, written []string) error {
	if c.Percentile == 0 && c.Delay == 0 && slices.Contains(written, "percentile") {
		return fielderr.New("percentile", 0, "is outside (0, 1) (0 makes the delay fixed only beside a delay; leave it out for the default "+prose.Float(DefaultPercentile)+")")
	}
	return nil
}

// retryBudget returns the budget of the chain's retry step, which the hedges draw on, or nil
// when the chain has no retry step.
func retryBudget(env *section.Env) *retry.RetryBudget {
	if rp, ok := env.Earlier[section.Key("retry")].Object.(*retry.Policy); ok {
		return rp.Budget(env.Service)
	}
	return nil
}

// build makes the hedge step of a suite's chain: inside the retry loop, so that each attempt
// of the loop is a hedged round, drawing on the same retry budget.
func build(env *section.Env, c Config) (section.Built, error) {
	opts := []Option{WithClock(env.Clock), WithObserver(env.Sink), WithClassifier(env.Classifier)}
	if b := retryBudget(env); b != nil {
		opts = append(opts, WithBudget(b))
	}
	return section.Step(New(c, opts...))
}

// ExplainBudget is what Explain says of the retry budget, which a Config cannot know: an
// explainer that knows the chain (config's -explain) replaces it with what the chain does.
const ExplainBudget = "; draws on the retry budget where the chain's retry step has one (without one, bounded by max_attempts and the allowance of losing hedges alone)"

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "up to %d attempts", c.MaxAttempts)
	if c.Percentile == 0 {
		fmt.Fprintf(&b, "; next one after %s", c.Delay)
	} else {
		// The starting delay as the policy runs it: Delay kept within [MinDelay, MaxDelay].
		start := max(c.Delay, c.MinDelay)
		if c.MaxDelay > 0 {
			start = min(start, c.MaxDelay)
		}
		fmt.Fprintf(&b, "; next one after the p%s latency of the last %d or %s× their median, the lower (%s until the first answer, at most that until %d are known), within %s .. %s",
			prose.Percent(c.Percentile), c.Window, prose.Float(c.MedianMultiple), start, c.MinSamples, c.MinDelay, prose.OrNone(c.MaxDelay))
	}
	// A Config does not know its chain: its hedges draw on the retry step's budget only where
	// there is one (retry.Policy.Budget not nil; see WithBudget). config's -explain, which
	// knows the profile, replaces this with what the chain does.
	b.WriteString(ExplainBudget)
	if c.Idempotent {
		b.WriteString("; idempotent")
	} else {
		// Most services declare no idempotency level: say why their calls are not hedged.
		b.WriteString("; hedges only methods declared idempotent")
	}
	return b.String()
}
