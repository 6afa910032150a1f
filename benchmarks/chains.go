package benchmarks

import (
	"context"
	"slices"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafegrpc"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/timeout"
	grpcmwretry "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// Services the benchmark configuration binds.
const (
	ServiceFaceMatch = "kyc.v1.FaceMatchService"
	ServiceLiveness  = "kyc.v1.LivenessService"
)

// Chain is one way of calling the server: a name and the interceptors it installs. A nil
// interceptor means the chain has none of that kind; Unsupported says why a chain cannot make a
// kind of call at all.
type Chain struct {
	Name   string
	Unary  grpc.UnaryClientInterceptor
	Stream grpc.StreamClientInterceptor
	// NoStream, when set, says why the chain cannot make the liveness stream call.
	NoStream string
	// Dial holds dial options beside the interceptors: a suite's service config
	// (interceptors.Suite.ServiceConfigOption), with which grpc keeps its per-attempt deadline.
	Dial []grpc.DialOption
}

// DialOptions returns the options that install c's interceptors.
func (c Chain) DialOptions() []grpc.DialOption {
	opts := append([]grpc.DialOption(nil), c.Dial...)
	if c.Unary != nil {
		opts = append(opts, grpc.WithUnaryInterceptor(c.Unary))
	}
	if c.Stream != nil {
		opts = append(opts, grpc.WithStreamInterceptor(c.Stream))
	}
	return opts
}

// MLRetry is the ml profile's retry (config/builtin.yaml) without its per-attempt timeout, so
// that it matches the peers' chains, which have one timeout for the whole call. scale
// multiplies its backoffs: 1 is the profile, 1e-5 turns its 1s into 10µs for the fault runs.
// tokenRatio > 0 turns on the profile's retry budget (10 tokens) with that ratio (the profile
// has 0.1); 0 leaves it off.
func MLRetry(scale, tokenRatio float64) retry.Config {
	d := func(x time.Duration) time.Duration { return time.Duration(float64(x) * scale) }
	c := retry.Config{
		MaxAttempts:    4,
		InitialBackoff: d(time.Second),
		MaxBackoff:     d(20 * time.Second),
		Multiplier:     2,
		Jitter:         retry.JitterAdditive,
		JitterAmount:   d(3 * time.Second),
	}
	if tokenRatio > 0 {
		c.Throttle = retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: tokenRatio}
	}
	return c
}

// MLBreaker is the ml profile's breaker; scale multiplies its recovery timeout.
func MLBreaker(scale float64) breaker.Config {
	return breaker.Config{
		ConsecutiveFailures:  5,
		FailureRateThreshold: 0.5,
		WindowType:           breaker.WindowCount,
		WindowSize:           20,
		MinimumCalls:         10,
		RecoveryTimeout:      time.Duration(float64(30*time.Second) * scale),
		HalfOpenMaxCalls:     1,
	}
}

// Bench policy settings: limits far above what a benchmark reaches, so that every policy is on
// its success path.
var (
	benchBulkhead  = bulkhead.Config{MaxConcurrent: 1024}
	benchRateLimit = ratelimit.Config{Rate: 1e9, Burst: 1e9}
	benchDeadline  = deadline.Config{Default: 5 * time.Second}
)

// BenchConfig is the suite's configuration for the overhead benchmarks: one profile with every
// policy but fallback and hedging (MLRetry with its throttle and a 5s per-attempt timeout,
// MLBreaker, a 1024-slot bulkhead, a 1e9/s limiter and a 5s default deadline; the 8s budget
// caps every call), bound to both services.
func BenchConfig() *config.Config {
	r := MLRetry(1, 0.1)
	r.PerAttemptTimeout = 5 * time.Second
	b := MLBreaker(1)
	bh, rl, dl := benchBulkhead, benchRateLimit, benchDeadline
	return &config.Config{
		Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{
			"bench": {Retry: &r, Breaker: &b, Bulkhead: &bh, RateLimit: &rl, Deadline: &dl},
		},
		Services: map[string]config.Service{
			ServiceFaceMatch: {Profile: "bench"},
			ServiceLiveness:  {Profile: "bench"},
		},
	}
}

// PolicyChains returns the raw chain and one chain per bulwark policy alone, each set up as in
// BenchConfig.
func PolicyChains() ([]Chain, error) {
	rp, err := retry.New(MLRetry(1, 0.1))
	if err != nil {
		return nil, err
	}
	rp5, err := retry.New(*BenchConfig().Profiles["bench"].Retry)
	if err != nil {
		return nil, err
	}
	br, err := breaker.New(ServiceFaceMatch, MLBreaker(1))
	if err != nil {
		return nil, err
	}
	bh, err := bulkhead.New(ServiceFaceMatch, benchBulkhead)
	if err != nil {
		return nil, err
	}
	rl, err := ratelimit.New(ServiceFaceMatch, nil, benchRateLimit)
	if err != nil {
		return nil, err
	}
	dl, err := deadline.New(benchDeadline)
	if err != nil {
		return nil, err
	}
	return []Chain{
		{Name: "raw"},
		{Name: "retry", Unary: rp.Unary(), Stream: rp.Stream()},
		{Name: "retry_5s", Unary: rp5.Unary(), Stream: rp5.Stream()},
		{Name: "breaker", Unary: br.Unary(), Stream: br.Stream()},
		{Name: "bulkhead", Unary: bh.Unary(), Stream: bh.Stream()},
		{Name: "ratelimit", Unary: rl.Unary(), Stream: rl.Stream()},
		{Name: "deadline", Unary: dl.Unary(), Stream: dl.Stream()},
	}, nil
}

// PeerChains returns the peers' chains: failsafe-go's gRPC interceptor with the policies of
// BenchConfig (retry as MLRetry, a breaker tripping on 5 failures, a 1024 bulkhead, a 1e9/s
// limiter, a 5s timeout), and go-grpc-middleware's retry alone (4 attempts, exponential backoff
// with jitter).
func PeerChains() []Chain {
	rp := failsafegrpc.NewRetryPolicyBuilder[any]().
		WithMaxAttempts(4).
		WithBackoff(time.Second, 20*time.Second).
		WithJitter(3 * time.Second).
		Build()
	cb := circuitbreaker.NewBuilder[any]().
		WithFailureThreshold(5).
		WithDelay(30 * time.Second).
		Build()
	rl := ratelimiter.NewBursty[any](1e9, time.Second)
	bh := fsbulkhead.New[any](1024)
	to := timeout.New[any](5 * time.Second)
	// Outer to inner, as bulwark orders them: timeout (the deadline), retry, breaker, limiter,
	// bulkhead.
	fs := failsafegrpc.NewUnaryClientInterceptor[any](to, rp, cb, rl, bh)
	mw := grpcmwretry.UnaryClientInterceptor(
		grpcmwretry.WithMax(4),
		grpcmwretry.WithBackoff(grpcmwretry.BackoffExponentialWithJitter(time.Second, 0.1)),
		grpcmwretry.WithCodes(grpccodes.Unavailable, grpccodes.ResourceExhausted),
	)
	return []Chain{
		{Name: "failsafe", Unary: fs, NoStream: "failsafegrpc has no client stream interceptor"},
		{Name: "grpcmw_retry", Unary: mw, NoStream: "go-grpc-middleware's retry fails client-streaming calls (Unimplemented) unless disabled"},
	}
}

// SuiteChains returns the bulwark suite built from BenchConfig, with its events sent to
// Prometheus through promobs ("suite") and with no observer ("suite_nosink"), and the suite
// built from config.Builtin(), whose ml profile both services use ("suite_builtin": it adds a
// 3s per-attempt timeout and a 16-slot bulkhead, and has no rate limit), also with promobs.
// "suite_retry" is BenchConfig's suite with retry alone (its 5 s per attempt and the 8 s
// budget), no observer: the step between grpc_timeout and suite_nosink in the report's ladder.
// Each is dialed as the suite's documentation says, with its service config
// (Suite.ServiceConfigOption), so that grpc keeps the per-attempt deadline where it can;
// "suite_ownctx" is "suite" dialed without it, making a context per attempt of its own. Each
// suite has a breaker registry of its own.
func SuiteChains() ([]Chain, error) {
	retryOnly := BenchConfig()
	p := retryOnly.Profiles["bench"]
	p.Breaker, p.Bulkhead, p.RateLimit, p.Deadline = nil, nil, nil, nil
	retryOnly.Profiles["bench"] = p
	var out []Chain
	for _, c := range []struct {
		name string
		cfg  *config.Config
		prom bool
	}{
		{"suite", BenchConfig(), true},
		{"suite_nosink", BenchConfig(), false},
		{"suite_builtin", config.Builtin(), true},
		{"suite_retry", retryOnly, false},
		{"suite_ownctx", BenchConfig(), true},
	} {
		opts := []interceptors.Option{interceptors.WithBreakerRegistry(new(breaker.Registry))}
		if c.prom {
			m, err := promobs.New(prometheus.NewRegistry())
			if err != nil {
				return nil, err
			}
			opts = append(opts, interceptors.WithObserver(m))
		}
		s, err := interceptors.New(c.cfg, opts...)
		if err != nil {
			return nil, err
		}
		ch := Chain{Name: c.name, Unary: s.Unary(), Stream: s.Stream()}
		if c.name != "suite_ownctx" {
			o, err := s.ServiceConfigOption("")
			if err != nil {
				return nil, err
			}
			ch.Dial = []grpc.DialOption{o}
		}
		out = append(out, ch)
	}
	return out, nil
}

// TimeoutChain is the reference chain of a bare 5 s per-attempt deadline: an interceptor that
// only runs the call on context.WithTimeout(ctx, 5s). It is what Go charges for any
// per-attempt deadline shorter than the caller's (a context, its timer, the registration of
// gRPC's own context under it), the floor under the suite's per-attempt timeout.
// failsafe-go's timeout pays for a context and a timer of its own too, but sends no deadline.
func TimeoutChain() Chain {
	return Chain{Name: "timeout", Unary: func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}, NoStream: "a reference for unary calls only"}
}

// GRPCTimeoutChain is the reference chain of a per-attempt deadline that grpc keeps: no
// interceptor, the connection's service config giving FaceMatchService a 5 s timeout, which
// grpc applies to the context it makes for every call anyway (a timer instead of a plain
// cancel). It is the floor under the suite dialed with its service config.
func GRPCTimeoutChain() Chain {
	return Chain{Name: "grpc_timeout", NoStream: "a reference for unary calls only", Dial: []grpc.DialOption{
		grpc.WithDefaultServiceConfig(`{"methodConfig":[{"name":[{"service":"` + ServiceFaceMatch + `"}],"timeout":"5s"}]}`)}}
}

// SpinChains are the calibration chains: no policy, the caller spins for 1 µs ("spin1us") or
// 2 µs ("spin2us"), reading the clock until it has passed, before each call. Their ratios to
// raw are what a microsecond of the caller's own work costs in place, which on a small machine
// is more than a microsecond (the caller shares the cores with gRPC's goroutines), and whether
// the second microsecond costs what the first does (see BENCHMARKS.md).
func SpinChains() []Chain {
	spin := func(name string, d time.Duration) Chain {
		return Chain{Name: name, Unary: func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			for end := time.Now().Add(d); time.Now().Before(end); {
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}, NoStream: "a reference for unary calls only"}
	}
	return []Chain{spin("spin1us", time.Microsecond), spin("spin2us", 2*time.Microsecond)}
}

// OffpathChain is a diagnostic chain: before each call it runs suite (the "suite" chain's
// interceptor) around an invoker that only reads the context's deadline and Done channel, as
// BenchmarkSuiteOwn does, and then makes the call itself outside it. It does the suite's own
// work per call, its attempt context included, without wrapping the gRPC call: against the
// suite chain it tells what the suite costs by its own work from what it costs by wrapping
// the call (a deeper stack and context chain, its call options).
func OffpathChain(suite Chain) Chain {
	u := suite.Unary
	aside := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		_, _ = ctx.Deadline()
		_ = ctx.Done()
		return nil
	}
	return Chain{Name: "offpath", Unary: func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := u(ctx, method, req, reply, cc, aside, opts...); err != nil {
			return err
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}, NoStream: "a diagnostic for unary calls only"}
}

// AllChains returns PolicyChains, SuiteChains, PeerChains, TimeoutChain, SpinChains and
// OffpathChain (of a suite chain of its own), raw first.
func AllChains() ([]Chain, error) {
	pc, err := PolicyChains()
	if err != nil {
		return nil, err
	}
	sc, err := SuiteChains()
	if err != nil {
		return nil, err
	}
	// The offpath chain's suite is built apart, so that its breaker, budget and metrics are
	// not the suite chain's.
	own, err := SuiteChains()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(own, func(c Chain) bool { return c.Name == "suite" })
	out := append(append(append(pc, sc...), PeerChains()...), TimeoutChain(), GRPCTimeoutChain())
	return append(append(out, SpinChains()...), OffpathChain(own[i])), nil
}
