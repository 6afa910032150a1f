package throttle

import (
	"context"
	"fmt"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "adaptive_throttle",
		Rank:      section.RankThrottle,
		Normalize: Normalize,
		Uses:      func(Config) section.Uses { return section.UsesClassifier },
		Build:     build,
		// A method without throttle settings of its own goes through its service's one
		// throttle whatever its classifier; its chain judges its outcomes by its own
		// classifier (forClassifier), so that its business errors are accepts.
		ServiceClassifier: true,
		ForClassifier:     forClassifier,
	})
}

// build makes the adaptive throttle step of a suite's chain: after the breaker, so that an
// open breaker's rejections are not counted as requests the service refused. It is named by
// the chain's service, or by its full method for a method with a throttle of its own (see New).
// A service's throttle classifies with the service's classifier (env.Classifier, whichever
// chain builds it); a method sharing it with a classifier of its own judges its outcomes in
// its chain's step (forClassifier).
func build(env *section.Env, c Config) (section.Built, error) {
	opts := []Option{WithClock(env.Clock), WithObserver(env.Sink), WithClassifier(env.Classifier)}
	if env.Rand != nil {
		opts = append(opts, WithRand(env.Rand))
	}
	return section.Step(New(env.Name, c, opts...))
}

// forClassifier is the step of a method's chain over its service's throttle (in b), shared by
// the service's methods, for a method whose classifier c differs from the service's: it
// admits calls and streams as the throttle does and records their outcomes on it as c judges
// them, so that the method's business errors are accepts and its transient ones are not. A
// call's WithCallClassifier still wins.
func forClassifier(b section.Built, c *codes.Classifier) section.Built {
	t, ok := b.Object.(*Throttle)
	if !ok {
		return b
	}
	return section.Judged(t, t,
		func(ctx context.Context, _ string, opts []grpc.CallOption, p section.Pass, err error, panicked bool) {
			t.exit(ctx, opts, p, err, panicked, c)
		},
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return t.newStream(ctx, desc, cc, method, streamer, opts, c)
		})
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	txt := fmt.Sprintf("reject locally past K=%s x accepts over %s, at most %s%%", prose.Float(c.K), c.Window, prose.Percent(c.MaxRejectProbability))
	if c.MinRequests > 0 {
		txt += fmt.Sprintf(", from %d requests", c.MinRequests)
	}
	return txt
}
