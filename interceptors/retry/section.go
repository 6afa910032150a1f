package retry

import (
	"fmt"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "retry",
		Rank:      section.RankRetry,
		Normalize: Normalize,
		Unused:    unused,
		Uses:      func(Config) section.Uses { return section.UsesClassifier | section.UsesBudget },
		CallSink:  func(sink observe.Sink) grpc.CallOption { return WithCallObserver(sink) },
		Build:     build,
	})
}

// build makes the retry step of a suite's chain. The call budget caps the section's own
// budget, and the per-attempt timeout is at most that. Its calls draw from one retry budget,
// the chain's service's (env.Service), as the chain's hedging policy does (hedge's build):
// not one per service a call names, which past the suite's bound on unlisted names would be
// one per service input brings.
func build(env *section.Env, c Config) (section.Built, error) {
	c = inSuite(c, env.Capped)
	opts := []Option{WithClock(env.Clock), WithObserver(env.Sink), WithClassifier(env.Classifier)}
	if env.Rand != nil {
		opts = append(opts, WithRand(env.Rand))
	}
	p, err := New(c, opts...)
	if err != nil {
		return section.Built{}, err
	}
	p.budgetService = env.Service
	b, err := section.Step(p, nil)
	b.Stream = p.stream(true) // a stream made with Disable reports its attempt too
	return b, err
}

// inSuite returns c as a suite's retry step has it: its budget capped by the call budget
// (capped) and the per-attempt timeout at most that.
func inSuite(c Config, capped func(time.Duration) time.Duration) Config {
	c.Budget = capped(c.Budget)
	c.PerAttemptTimeout = min(c.PerAttemptTimeout, c.Budget)
	return c
}

// AttemptTimeout is the per-attempt timeout of the retry step a suite builds from c under a
// call budget (config.Config's, never 0): c's PerAttemptTimeout, at most c's own budget capped
// by the call budget. 0 means none.
func AttemptTimeout(c Config, callBudget time.Duration) time.Duration {
	env := section.Env{Budget: callBudget}
	return inSuite(c, env.Capped).PerAttemptTimeout
}

// TimeBudget is the time budget of the retry step a suite builds from c under a call budget
// (config.Config's, never 0): c's Budget capped by the call budget, the call budget where c
// has none.
func TimeBudget(c Config, callBudget time.Duration) time.Duration {
	env := section.Env{Budget: callBudget}
	return inSuite(c, env.Capped).Budget
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	var b strings.Builder
	if c.MaxAttempts == 1 {
		b.WriteString("1 attempt (no retry)") // no sleep follows, so no backoff
	} else {
		if c.Jitter == JitterDecorrelated {
			// Each sleep is drawn up to three times the previous one: Multiplier is not read.
			fmt.Fprintf(&b, "%d attempts; backoff %s to 3x the previous sleep, up to %s", c.MaxAttempts, c.InitialBackoff, c.MaxBackoff)
		} else if c.Multiplier == 1 {
			fmt.Fprintf(&b, "%d attempts; backoff %s each time, up to %s", c.MaxAttempts, c.InitialBackoff, c.MaxBackoff)
		} else {
			fmt.Fprintf(&b, "%d attempts; backoff %s x%s up to %s", c.MaxAttempts, c.InitialBackoff, prose.Float(c.Multiplier), c.MaxBackoff)
		}
		switch c.Jitter {
		case JitterAdditive:
			fmt.Fprintf(&b, ", additive jitter up to %s", c.JitterAmount)
		case JitterNone:
			b.WriteString(", no jitter")
		default:
			fmt.Fprintf(&b, ", %s jitter", c.Jitter)
		}
	}
	fmt.Fprintf(&b, "; per attempt %s", prose.OrNone(c.PerAttemptTimeout))
	if c.PerAttemptTimeout > 0 && c.PerAttemptCut == CutOvertaken {
		b.WriteString(" (cut when overtaken)")
	}
	if c.Budget > 0 {
		fmt.Fprintf(&b, "; time budget %s", c.Budget)
	}
	if c.FitSchedule {
		b.WriteString("; sleeps fitted to the time left")
	}
	switch th := c.Throttle; {
	case th.Ratio > 0:
		fmt.Fprintf(&b, "; retries and hedges at most %s per call + %s/s over %s", prose.Float(th.Ratio), prose.Float(th.MinPerSecond), th.Window)
		if c.MaxAttempts > 1 && float64(c.MaxAttempts) > 1+th.Ratio {
			// Why the attempts may exceed what the load would bear: the budget, not
			// max_attempts, bounds the load once failures are common (issue 15).
			fmt.Fprintf(&b, ", so at most %s attempts per call (+ the floor) at any failure rate, whatever max_attempts",
				prose.Float(1+th.Ratio))
		}
	case th.MaxTokens > 0:
		fmt.Fprintf(&b, "; throttle %s tokens, %s back per success", prose.Float(th.MaxTokens), prose.Float(th.TokenRatio))
	default:
		b.WriteString("; no throttle")
	}
	switch {
	case c.Idempotent:
		b.WriteString("; idempotent")
	case c.MaxAttempts > 1:
		// Most services declare no idempotency level: say why their calls are not retried.
		b.WriteString("; retries only methods declared idempotent")
	}
	return b.String()
}
