package breaker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "breaker",
		Rank:      section.RankBreaker,
		Normalize: Normalize,
		Explicit:  explicit,
		Unused:    unused,
		Name: func(c Config, service, fullMethod string, shared bool) string {
			if shared && c.Scope != ScopeMethod {
				return service
			}
			return fullMethod
		},
		Uses: func(Config) section.Uses { return section.UsesClassifier },
		// Under scope service, a method without breaker settings of its own goes through its
		// service's one breaker whatever its classifier; its chain judges its outcomes by
		// its own classifier (forClassifier), so that its business errors are no failures.
		ServiceClassifier: true,
		ForClassifier:     forClassifier,
		// The registry may be shared with other suites (interceptors.WithBreakerRegistry):
		// each build of the suite takes the registry's breaker (a chain built on a first
		// call, the one the suite's chains of the name hold: see Registry).
		Refresh: true,
		Build:   build,
		Check:   check,
	})
}

// check refuses, before a suite's build takes any breaker, settings that would change a
// breaker the suite holds and another suite sharing the registry holds too
// (ErrSharedConflict), as build refuses them. A suite's Reload so also refuses them for the
// chains it builds on a first call (interceptors.WithBreakerRegistry).
func check(env *section.Env, c Config) error {
	r, ok := section.Value[*Registry](env)
	if !ok {
		return nil
	}
	u, _ := section.Value[*User](env)
	return r.conflictOf(env.Name, c, u)
}

// build takes the breaker of a suite's chain from the suite's registry (a *Registry in
// env.Values), which keeps a breaker whose settings are unchanged. When the suite replaces the
// breaker for another reason (the classifier changed), a new one is made, so that it starts
// afresh. A service's breaker classifies with the service's classifier (env.Classifier,
// whichever chain builds it); a method sharing it with a classifier of its own judges its
// outcomes in its chain's step (forClassifier). A breaker made here goes into the registry
// when the suite's reload commits (env.Stage), so that a rejected reload leaves the registry
// as it was; the suite (the *User in env.Values) holds the breaker from that commit on, and
// while another user holds the registry's breaker of the name, a build asking for other
// settings fails (ErrSharedConflict) instead of replacing it. A breaker another suite made
// with another classifier is shared all the same: this suite's step judges its outcomes by its
// own classifier (forClassifier). A breaker named by a full method (scope method, or a method with a breaker of its
// own) names that method in its events.
func build(env *section.Env, c Config) (section.Built, error) {
	r, ok := section.Value[*Registry](env)
	if !ok {
		r = new(Registry)
	}
	name := env.Name
	opts := []Option{WithClock(env.Clock), WithObserver(env.Sink), WithClassifier(env.Classifier), WithService(env.Service)}
	if strings.HasPrefix(name, "/") {
		// A breaker of one method: its events name the method, as its Levels do, so that an
		// observer keyed by service and method tells it from its service's breaker.
		opts = append(opts, withMethod(name))
	}
	u, _ := section.Value[*User](env)
	b, made, err := r.take(name, c, env.Replacing, u, opts)
	if err != nil {
		return section.Built{}, err
	}
	if !made {
		env.Stage.OnCommit(func() { r.hold(name, b, u) })
	} else {
		// Until the build ends, a build of another suite sharing r that takes the same
		// breaker gets b: whichever commits first puts it, and both use the one r holds. A
		// rejected build drops its take (its closers run at once); one that commits drops
		// nothing, as put settled it.
		settled := false
		env.Stage.OnCommit(func() { settled = true; r.put(name, b, u); r.hold(name, b, u) })
		if env.OnClose != nil {
			env.OnClose(func() error {
				if !settled {
					settled = true
					r.drop(name, b, u)
				}
				return nil
			})
		}
	}
	if env.Classifier != nil && !b.classifier.Equal(env.Classifier) {
		// Another suite sharing r made the breaker with a classifier of its own: this
		// suite's chains judge their outcomes by the suite's.
		own, _ := section.Step(b, nil)
		return forClassifier(own, env.Classifier), nil
	}
	return section.Step(b, nil)
}

// forClassifier is the step of a method's chain over its service's breaker (in b), shared by
// the service's methods (ScopeService), for a method whose classifier c differs from the
// service's: it admits calls and streams as the breaker does and records their outcomes on it
// as c judges them, so that the method's business errors are no failures of the breaker and
// its transient ones are. A call's WithCallClassifier still wins.
func forClassifier(b section.Built, c *codes.Classifier) section.Built {
	br, ok := b.Object.(*Breaker)
	if !ok {
		return b
	}
	return section.Judged(br, br,
		func(ctx context.Context, _ string, opts []grpc.CallOption, p section.Pass, err error, panicked bool) {
			br.exit(ctx, opts, p, err, panicked, c)
		},
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return br.newStream(ctx, desc, cc, method, streamer, opts, c)
		})
}

// explicit refuses consecutive_failures: 0 written without a failure rate: 0 then means the
// default, so the file would not say what it seems to.
func explicit(c Config, written []string) error {
	if c.ConsecutiveFailures == 0 && c.FailureRateThreshold == 0 && slices.Contains(written, "consecutive_failures") {
		return fielderr.New("consecutive_failures", 0, "is below 1 (0 turns consecutive tripping off only when failure_rate_threshold is set)")
	}
	return nil
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	var trips []string
	if c.ConsecutiveFailures > 0 {
		trips = append(trips, fmt.Sprintf("%d failures in a row", c.ConsecutiveFailures))
	}
	window := fmt.Sprintf("the last %d calls", c.WindowSize)
	if c.WindowType == WindowTime {
		window = "the last " + c.WindowDuration.String()
	}
	if c.FailureRateThreshold > 0 {
		rate := fmt.Sprintf("%s%% failures over %s (from %d calls)", prose.Percent(c.FailureRateThreshold), window, c.MinimumCalls)
		if c.FailureRateConfidence > 0 {
			// The counts that trip, at the smallest window judged and at a full count window.
			rate = fmt.Sprintf("%s%% failures over %s with %s%% confidence (from %d calls", prose.Percent(c.FailureRateThreshold), window,
				prose.Percent(c.FailureRateConfidence), c.MinimumCalls)
			sizes := []int{c.MinimumCalls}
			if c.WindowType != WindowTime && c.WindowSize > c.MinimumCalls {
				sizes = append(sizes, c.WindowSize)
			}
			for i, n := range sizes {
				sep := ": "
				if i > 0 {
					sep = ", "
				}
				if k := FailuresToTrip(c, n); k > 0 {
					rate += fmt.Sprintf("%s%d of %d", sep, k, n)
				} else {
					rate += fmt.Sprintf("%snever at %d", sep, n)
				}
			}
			rate += ")"
		}
		trips = append(trips, rate)
	}
	if c.SlowCallDuration > 0 {
		trips = append(trips, fmt.Sprintf("%s%% calls slower than %s over %s (from %d calls)", prose.Percent(c.SlowCallRateThreshold), c.SlowCallDuration, window, c.MinimumCalls))
	}
	open := c.RecoveryTimeout.String()
	if c.InitialRecoveryTimeout > 0 && c.InitialRecoveryTimeout < c.RecoveryTimeout {
		open = fmt.Sprintf("%s (x%s after each failed probe, up to %s)", c.InitialRecoveryTimeout, prose.Float(c.RecoveryMultiplier), c.RecoveryTimeout)
		if c.RecoveryMultiplier == 1 {
			// A failed probe does not lengthen the interval: it never reaches RecoveryTimeout.
			open = c.InitialRecoveryTimeout.String()
		}
	}
	return fmt.Sprintf("per %s; opens on %s; half-opens after %s with %s at once (reopens when every slot is held %s); %s",
		c.Scope, strings.Join(trips, " or "), open, prose.Plural(c.HalfOpenMaxCalls, "probe", "probes"), c.HalfOpenMaxWait,
		prose.Plural(c.SuccessThreshold, "success closes it", "successes close it"))
}
