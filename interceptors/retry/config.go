package retry

import "time"

// Jitter names how a backoff delay is randomised.
type Jitter string

// The jitter strategies. With d = min(InitialBackoff·Multiplier^n, MaxBackoff) for the n-th
// retry (n from 0):
const (
	// JitterNone sleeps d exactly.
	JitterNone Jitter = "none"
	// JitterFull sleeps U(0, d): the widest spread, the best at breaking up retry storms.
	JitterFull Jitter = "full"
	// JitterEqual sleeps d/2 + U(0, d/2).
	JitterEqual Jitter = "equal"
	// JitterDecorrelated sleeps min(MaxBackoff, U(InitialBackoff, 3·previous sleep)).
	JitterDecorrelated Jitter = "decorrelated"
	// JitterAdditive sleeps min(d + U(0, JitterAmount), MaxBackoff): the form of the reference
	// profiles (tenacity's wait_exponential_jitter).
	JitterAdditive Jitter = "additive"
)

// Cut names which attempts a per-attempt timeout ends (Config.PerAttemptCut).
type Cut string

// The cuts.
const (
	// CutAlways ends every attempt that reaches the per-attempt timeout, as gRFC A6's
	// perAttemptRecvTimeout does.
	CutAlways Cut = "always"
	// CutOvertaken ends an attempt at the per-attempt timeout only when the service has
	// overtaken it: it has since answered a later attempt of the same method in under half the
	// timeout. The attempt is then stalled where others are not (a hung request, a replica
	// that slowed down alone), and a retry can expect what they got. When no later attempt was
	// answered that fast, the service is slow for every caller (a slowdown, a queue that
	// builds): a retry would wait as long or queue behind the attempt, and cutting would turn
	// the service's slow answers into failures, so the attempt runs on, to the call's deadline.
	// As TCP's RACK (RFC 8985) takes a segment for lost once a segment sent later was
	// delivered, not when a timer alone says so.
	CutOvertaken Cut = "overtaken"
)

// Config is the retry policy as data. Zero values are the documented defaults, so an empty
// Config is a usable policy. Validate reports what is out of range.
type Config struct {
	// MaxAttempts is the most attempts per call, the first one included. 0 means 3; 1 disables
	// retries but keeps attempt accounting. A hedging policy below the loop may make each
	// attempt a round of several requests: they are not bounded here (Info.Attempts counts
	// them all).
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts" zero:"is below 1"`
	// InitialBackoff is the delay before the first retry, before jitter. 0 means 100ms.
	InitialBackoff time.Duration `yaml:"initial_backoff" json:"initial_backoff" zero:"is not positive (leave it out for the default 100ms)"`
	// MaxBackoff caps every delay the schedule computes, jitter included; a server's pushback,
	// which replaces the computed delay, is not capped by it (only by the deadline and Budget).
	// 0 means 10s, or InitialBackoff when that is longer (a 20s initial backoff means a 20s
	// ceiling).
	MaxBackoff time.Duration `yaml:"max_backoff" json:"max_backoff" zero:"is not positive (leave it out for the default 10s)"`
	// Multiplier grows the delay after each retry. 0 means 2.
	Multiplier float64 `yaml:"multiplier" json:"multiplier" zero:"is below 1"`
	// Jitter is the randomisation strategy. Empty means JitterFull.
	Jitter Jitter `yaml:"jitter" json:"jitter" zero:"is not one of none, full, equal, decorrelated, additive"`
	// JitterAmount is the upper bound of the additive jitter; used only by JitterAdditive.
	JitterAmount time.Duration `yaml:"jitter_amount" json:"jitter_amount"`
	// PerAttemptTimeout gives each attempt its own deadline (never later than the call's).
	// An attempt that hits it ends in DeadlineExceeded, which is retried. A stream's applies
	// until the stream commits, and commits a server stream whose response header came while
	// nobody was receiving (the caller reads late) rather than end it (see the package
	// documentation, Streams). 0 means none. By its clock alone it cannot tell a stalled
	// attempt from a service that slowed down for every caller: set below such a slowdown's
	// latency, it cuts every attempt, each a failure to the breaker below, and a slow service
	// answers none. PerAttemptCut CutOvertaken tells them apart by the service's answers to
	// later attempts; else keep it well above the latencies the service may reach while
	// healthy. Either way, let a hedging policy race stalled attempts rather than end them:
	// the built-in ml and ocr profiles hedge, and keep 5s (not the reference's 3s and 1.25s),
	// cut when overtaken, for requests that never answer, whose bulkhead slots it frees and
	// after which a retry has time.
	PerAttemptTimeout time.Duration `yaml:"per_attempt_timeout" json:"per_attempt_timeout"`
	// PerAttemptCut says which attempts PerAttemptTimeout ends: every one that reaches it
	// (CutAlways, the default), or only one that the service overtook (CutOvertaken), which
	// keeps a service that slowed down for everyone answering. With CutOvertaken the timeout
	// is a timer of the loop's, never a deadline on the attempt's context: the server sees the
	// call's deadline, a suite's ServiceConfig leaves the method's timeout out, and an attempt
	// that is cut is canceled (the server sees a cancellation) and ends in DeadlineExceeded.
	PerAttemptCut Cut `yaml:"per_attempt_cut" json:"per_attempt_cut" zero:"is not one of always, overtaken"`
	// Budget is a time: the call's total timeout, attempts and sleeps together, from its
	// start. No attempt starts and no sleep begins that cannot finish within it. 0 means no
	// limit beyond the caller's deadline. It is not the retry budget (that is Throttle, a
	// RetryBudgetConfig); the field keeps its name, and the yaml key "budget", so as not to
	// break programs and files.
	Budget time.Duration `yaml:"budget" json:"budget"`
	// FitSchedule shapes the backoff sleeps to the time that remains: when the nominal sleep
	// would leave the remaining attempts too little of the call's remaining time (the earlier
	// of the caller's deadline and Budget), it is scaled down so that they still fit (see the
	// package documentation, "Fitting the schedule"). Off by default; on in the built-in
	// profiles.
	FitSchedule bool `yaml:"fit_schedule" json:"fit_schedule"`
	// Throttle is the retry budget that keeps retries (and hedges) from multiplying load on a
	// sick service: a ratio budget or gRFC A6's token bucket (see RetryBudgetConfig), one per
	// service at run time, a *RetryBudget (Policy.Budget). It is not a time: the time limit is
	// Budget. The zero value disables it. It has nothing to do with package throttle (adaptive throttling of
	// first attempts); the field keeps its name, and the yaml key "throttle", so as not to
	// break programs and files.
	Throttle RetryBudgetConfig `yaml:"throttle" json:"throttle"`
	// Idempotent marks the methods this policy governs as safe to retry even when their
	// descriptors do not say NO_SIDE_EFFECTS or IDEMPOTENT.
	Idempotent bool `yaml:"idempotent" json:"idempotent"`
	// ReplayBufferBytes caps the bytes of sent messages a client- or bidi-streaming call keeps
	// for replay on retry, each counted as on the wire (proto.Size plus gRPC's 5-byte message
	// header); past it, the stream is committed and no longer retried.
	// 0 means 256 KiB; negative means never buffer (streams with client messages are not
	// retried); at most 1 GiB (Validate refuses more).
	ReplayBufferBytes int `yaml:"replay_buffer_bytes" json:"replay_buffer_bytes" zero:"means the default 256 KiB: leave it out, or write -1 to never buffer"`
}

// RetryBudgetConfig configures the retry budget (RetryBudget) shared by every call to one
// service, of one of two kinds:
//
//   - a ratio budget (Ratio > 0; Finagle's RetryBudget): over the last Window, retries and
//     hedges may number at most Ratio times the calls made, plus MinPerSecond·Window whatever
//     the traffic. Calls per call are then at most 1 + Ratio + MinPerSecond/(call rate),
//     whatever the failure rate, and a burst of concurrent first failures can still retry.
//   - gRFC A6's token bucket (MaxTokens > 0): a bucket of MaxTokens that each failure drains
//     by 1 and each success refills by TokenRatio. Retries are allowed only while the bucket
//     holds more than half of MaxTokens, so with the service fully down retries stop after a
//     few failures, and resume as successes come back. A burst of concurrent failures larger
//     than MaxTokens/2 empties it before any success can refill it.
//
// Setting both is an error; the zero value disables the retry budget.
type RetryBudgetConfig struct {
	// MaxTokens is the token bucket's size, in (0, 1000], counted in thousandths of a token
	// (so at least 0.0005). 0: no token bucket.
	MaxTokens float64 `yaml:"max_tokens" json:"max_tokens"`
	// TokenRatio is what each success puts back, in (0, MaxTokens], counted in thousandths of
	// a token (so at least 0.0005). 0 means 0.1, or MaxTokens when that is smaller. Unused
	// without MaxTokens, as MinPerSecond without Ratio.
	TokenRatio float64 `yaml:"token_ratio" json:"token_ratio" zero:"is not positive (leave it out for the default 0.1)"`
	// Ratio is the ratio budget's share: retries and hedges per call over the window, in
	// (0, 10], counted in thousandths (so at least 0.0005). 0: no ratio budget.
	Ratio float64 `yaml:"ratio" json:"ratio"`
	// MinPerSecond is the ratio budget's floor: retries per second allowed whatever the
	// traffic, in (0, 1000], with at least 0.0005 retries in the window (the budget counts
	// thousandths of a retry). 0 means 10. Unused without Ratio: package config refuses it
	// written without one, and warns of one a service keeps from its profile when it turns
	// the ratio budget off with ratio: 0 alone.
	MinPerSecond float64 `yaml:"min_per_second" json:"min_per_second" zero:"is not positive (leave it out for the default 10)"`
	// Window is the time over which the ratio budget counts calls and retries, from 1s to
	// 10m (counted in tenths of it). 0 means 10s. Unused without Ratio, as MinPerSecond.
	Window time.Duration `yaml:"window" json:"window" zero:"is not positive (leave it out for the default 10s)"`
}

// Throttle is RetryBudgetConfig, its older name.
//
// Deprecated: use RetryBudgetConfig; package throttle is a different mechanism.
type Throttle = RetryBudgetConfig
