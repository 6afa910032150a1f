// Package retry retries failed gRPC calls: with exponential backoff and a choice of jitter,
// within the caller's deadline and a total budget, honouring server pushback, under a retry
// budget per service, and only for methods that are safe to repeat.
//
// The policy works without gRPC (Policy.Do) and as unary and stream client interceptors
// (Policy.Unary, Policy.Stream). Its CallOptions (WithMax, Disable, WithIdempotent, Report,
// WithCallObserver) change one call; its Options build the policy (see Options below). A
// Policy is safe for concurrent use.
//
// # What is retried
//
// An attempt's outcome is classified by a codes.Classifier (WithClassifier; codes.Default
// otherwise), and retried only when its class is retryable:
//
//	| class        | codes (default table)                                   | retried |
//	|--------------|---------------------------------------------------------|---------|
//	| success      | OK                                                      | —       |
//	| transient    | Unavailable, DeadlineExceeded, Aborted                  | yes     |
//	| throttled    | ResourceExhausted (not for a message over a size limit) | yes     |
//	| business     | InvalidArgument, NotFound, PermissionDenied, ...        | never   |
//	| canceled     | Canceled                                                | never   |
//	| server_fault | Internal, Unknown, DataLoss                             | never   |
//	| rejected     | a bulwark codes.Rejection (breaker open, bulkhead full) | never   |
//
// A retryable outcome is still not retried, and the call ends, when (checked in this order):
//
//	| condition                                          | the caller gets                | Info.Reason    |
//	|----------------------------------------------------|--------------------------------|----------------|
//	| the method may not be retried (idempotency rule)   | the error as it is             | (none)         |
//	| the caller canceled its context                    | the error as it is             | (none)         |
//	| its ClientConn shut down during the backoff sleep  | Canceled (see below)           | (none)         |
//	| the caller's deadline expired                      | *ExhaustedError                | deadline       |
//	| the budget (Config.Budget) is spent                | *ExhaustedError                | budget         |
//	| the server asked not to retry (pushback)           | *ExhaustedError                | pushback_stop  |
//	| MaxAttempts attempts were made                     | *ExhaustedError                | max_attempts   |
//	| the sleep would not leave MinAttemptTime before    | *ExhaustedError                | deadline or    |
//	| the caller's deadline or the budget's end          |                                | budget         |
//	| the retry budget (Config.Throttle) is spent        | *ExhaustedError                | retry_budget   |
//
// A call sleeping before a retry when its ClientConn shuts down (ClientConn.Close) ends at
// once, as gRPC ends the calls it holds: it returns Canceled, "the client connection is
// closing", sends no further attempt and no RetriesExhausted (it did not run out of retries:
// it ended, as one its caller cancels), and its Info reads Canceled. The ClientConn is watched
// by one goroutine per ClientConn (internal/streamend's watcher), asked for only by a call that
// sleeps. A call made through Do has no ClientConn: only its context cuts its sleep short.
//
// The retry budget is asked last, once the retry is otherwise certain, because a ratio budget
// counts the retry it allows. A unary call does not read its last attempt's trailer (see
// Deadlines of an attempt), so a grpc-retry-pushback-ms there that asks not to retry ends the
// call with max_attempts, not pushback_stop.
//
// A DeadlineExceeded caused by a per-attempt timeout (Config.PerAttemptTimeout, a fresh child
// deadline per attempt) is retried; one caused by the caller's own deadline is not. An
// *ExhaustedError's gRPC status has the last attempt's code and details and its message ends
// "(after N attempts, reason)"; errors.Is(err, ErrExhausted) holds, Unwrap gives the last
// attempt's error, and InfoOf(err) gives attempts, elapsed time, last code and reason.
//
// # Idempotency
//
// By default a method is retried only when its descriptor declares idempotency_level
// NO_SIDE_EFFECTS or IDEMPOTENT, or when Config.Idempotent is set; the CallOption
// WithIdempotent overrides both for one call. Any other method (KYCService.Verify) is never
// retried by this package. A retry of such a method would be safe only if the request provably
// never left the client, and nothing the client API returns proves that: an Unavailable may
// come before or after the server received the request. The one case that is provable — the
// request never reached the transport — is already retried by grpc-go's transparent retry, and
// a bulwark rejection (the other local failure) is never retried anyway.
//
// # Backoff
//
// With d = min(InitialBackoff·Multiplier^n, MaxBackoff) for retry n (n from 0), U(a, b)
// uniform in [a, b) from the random source (WithRand), and p the previous sleep
// (InitialBackoff before the first):
//
//	| Jitter       | sleep                                  |
//	|--------------|----------------------------------------|
//	| none         | d                                      |
//	| full         | U(0, d)                                |
//	| equal        | d/2 + U(0, d/2)                        |
//	| decorrelated | min(MaxBackoff, U(InitialBackoff, 3p)) |
//	| additive     | min(d + U(0, JitterAmount), MaxBackoff)|
//
// Server pushback replaces the computed sleep: a google.rpc.RetryInfo delay or the
// grpc-retry-pushback-ms trailer (the longer of the two). A trailer that is not a
// non-negative decimal int32 (gRFC A6's format), or several values, means "do not retry". The
// pushed-back sleep is subject to the same time rules as any other, is never fitted, and
// restarts the schedule (A6): the next computed sleep is retry 0's again, and decorrelated
// jitter does not take the pushed-back sleep as its previous one. With InitialBackoff 100ms
// and no jitter, a pushback of 50ms after the first retry gives 100ms, 50ms, 100ms, 200ms.
// Sleeps use one timer per call from the injected clock (WithClock).
//
// # Deadlines of an attempt
//
// A unary attempt gets at most one context of its own: its deadline is the earliest of the
// per-attempt timeout, the budget's end and a deadline declared for the call
// (Policy.InvokeWithin, which the suite uses to fold its deadline step into the loop), and
// it is made only when that comes before the caller's own deadline. Which one ended an
// attempt is told from the times: the per-attempt timeout's DeadlineExceeded is retried; the
// declared deadline ends the call as an expired deadline (ReasonDeadline), the budget with
// ReasonBudget, the caller's deadline is never retried. Between attempts no deadline timer
// lives, only the sleep's. The grpc.Trailer option that reads grpc-retry-pushback-ms (grpc
// copies the trailers for it on every call) is passed only when a retry could follow the
// attempt: not on the last one, nor for a method that may not be retried.
//
// # Fitting the schedule
//
// A nominal schedule may not fit the call's time: the reference ml profile (1s·2ⁿ + U(0, 3s),
// 4 attempts) sleeps up to 4s, 5s and 7s, so in an 8s budget only 2 or 3 attempts run even
// when every attempt fails at once. With Config.FitSchedule, the sleep before each retry is
// fitted to the time that remains, R (until the earlier of the caller's deadline and the
// budget's end), and the k attempts still to run after it: the remaining time is shared
// equally among those attempts, and a sleep may take at most half of its attempt's share,
//
//	cap = R / (2k)
//
// so every attempt keeps at least as much time as the sleep before it. When the nominal sleep's
// upper bound u (its jitter at the top) exceeds cap, the drawn sleep d becomes d·cap/u: the
// whole jitter range is scaled into [.., cap], so callers that failed together still spread out
// instead of all waking at cap, and when even the longest draw fits, the sleep is the nominal
// one. Attempts that fail at once then all run: for ml in 8s, after the longest draws, the
// sleeps are 1.33s, 1.67s and 2.5s; a shorter sleep leaves more of R to the later caps (up to
// about 1.92s and 3.45s), and whatever the draws the last attempt keeps at least 2.5s. Attempts
// that take time shrink R, and the later caps with it. Pushback delays are not fitted. Without
// a deadline or budget there is nothing to fit to, and the nominal schedule applies.
//
// # Time
//
// The first attempt always runs. No further attempt starts, and no sleep begins, unless at
// least MinAttemptTime (5ms) would remain before both the caller's deadline and the budget's
// end once the sleep is over. The budget (Config.Budget) is also a deadline on every attempt.
// With PerAttemptTimeout each attempt has its own deadline, never later than the call's.
//
// With PerAttemptCut CutOvertaken that deadline is a timer's, which cuts the attempt only if
// the service overtook it: it answered, in under half the timeout, an attempt of the same
// method that started later (a success or a business answer: a failure, fast as it may be,
// does not say that a retry would be answered sooner). A hung request among answered ones is
// cut and retried as before; the attempts of a service slowed down for every caller, or of a
// queue that builds in front of it, run on to the call's end, and are answered late rather
// than turned into failures. The attempt's context carries the call's deadline alone, so the
// server sees that, and a cut is a cancellation there; the caller sees the cut attempt end in
// DeadlineExceeded, as with CutAlways, and so do the policies below the loop: the timer sets
// a flag that the attempt's context carries before it cancels the context, and a breaker, an
// adaptive throttle, an adaptive bulkhead and a hedging policy below take a cancel with the
// flag set for the timeout's DeadlineExceeded (internal/outcome's ErrCut), a failure and a
// sample as under CutAlways's deadline, not for a caller's cancellation, which they leave
// out. A hedging policy below learns the timeout's end from
// the attempt's Round (attempt.Round.SetEnd), and that it no longer holds once the attempt is
// spared. The method's evidence is the answers its policy saw: a method called seldom has
// few, and its stalled attempts are spared until one is overtaken; answers to attempts made
// through InvokeGated's first-attempt path count, as do a stream's attempts, as of their end.
// A name the policy's table does not keep (see Policy.Method), looked up afresh by each call,
// has no evidence but its own call's: its attempts are never cut. Each attempt the timer
// spares is told the sink as an AttemptSpared event (see Events): their rate says that a
// service is slow for every caller, which no failure, and so no breaker, shows yet.
//
// # Retry budget
//
// Config.Throttle is one budget per gRPC service shared by all calls of a Policy (and by the
// hedges of interceptors/hedge, through Policy.Budget and RetryBudget.Draw; a hedge a policy
// below refuses gives its draw back, RetryBudget.Refund; so does a retry a policy below the loop
// refuses, from a ratio budget, which counted it, unless a backoff longer than the window
// took it out of the window already, and a retry counted but never made, the caller gone or
// the ClientConn shut down during its backoff, the stream committed, the observer or the
// Clock panicked before its backoff ended, or its attempt began past the call's deadline, a
// backoff's timer fired late, which grpc fails unsent). It is of one of two kinds.
//
// A ratio budget (Throttle.Ratio; Finagle's RetryBudget, the built-ins' choice) counts calls
// (first attempts that reached the service: any outcome but a cancellation or a local
// rejection) and retries over the last Window (10s by default, in tenths), and allows a retry
// or hedge while
//
//	retries + 1 ≤ Ratio·calls + MinPerSecond·Window
//
// Time comes from the policy's clock. With calls at rate λ per second and each attempt failing
// with probability F, a call of up to M attempts wants F + F² + … + F^(M−1) retries; it gets
// them all while that is below Ratio + MinPerSecond/λ, and otherwise the attempts per call are
// bounded by
//
//	attempts per call ≤ 1 + min(F + F² + … + F^(M−1), Ratio + MinPerSecond/λ)
//
// For the built-in ml profile (M = 4, Ratio 0.6, 2/s): 0.25 retries per call wanted at
// F = 0.2 and 0.42 at F = 0.3, all allowed; at F ≥ 0.5 (0.88 wanted) 1.61 attempts per call
// at 200 calls/s and 1.70 at 20/s, 1 + 0.6 + 2/λ in general (TestRatioBudgetAmplification).
// Bursts: every call counts before it can fail, so a wave of concurrent first failures finds
// its own deposits, Ratio per call, plus the floor MinPerSecond·Window (20 retries for the
// built-ins) even on a cold start: 32 callers failing together at once may make 0.6·32 + 20 =
// 39 retries. A burst larger than the window's allowance is cut, never the steady state.
//
// gRFC A6's token bucket (Throttle.MaxTokens) starts full at MaxTokens; an attempt whose class
// counts as a failure (transient, throttled, server_fault) takes one token, a success puts
// TokenRatio back; a retry is made only while the bucket holds more than MaxTokens/2, and a
// hedge takes one token (a bucket of fewer than two may hold less: it owes the rest, which
// successes pay first), all of which a refused hedge gives back. With the service fully down,
// calls soon make one attempt each; successes refill the bucket and retries resume. Its
// weakness is bursts: MaxTokens/2 concurrent first failures empty it before any success can
// refill it (with 10 tokens, 5 of 32 callers failing together stop everyone's retries), which
// is why the built-ins moved off it; it stays for configurations that name it.
//
// # Metadata
//
// Every attempt after the first carries gRFC A6's grpc-previous-rpc-attempts
// (PreviousAttemptsKey): how many attempts of the call were sent before it, 1 on the first
// retry. Hedging (package hedge) follows the same convention, and under a retry loop numbers
// its hedges over the whole call: a retry after a hedged round carries the count of every
// request sent before it, hedges included. The first attempt carries nothing. When grpc-go
// itself retries an attempt transparently (the request never left the client), it adds its own
// value for that attempt: the server may then see two.
//
// Retries also still carry the retry's own number (2, 3, ...) in x-retry-attempt
// (AttemptMetadataKey), for one more release: it is deprecated; read
// grpc-previous-rpc-attempts.
//
// A unary call's grpc.OnFinish callbacks run once, with the call's outcome, when the call
// returns, as grpc's own retries run them: the attempts are made without them. A call that
// panics (an attempt, an observer on one of the call's events) runs them with
// an Internal error as the panic goes on to the caller. A stream's
// attempts still carry them, so they run at the end of each attempt stream.
//
// # Streams
//
// A stream is retried until it commits, and never after. It commits when its first response
// message arrives, when the caller reads a header from it (Header, as in grpc-go: the caller
// never gets one attempt's header and another's messages), when it ends cleanly, when the
// messages sent so far outgrow Config.ReplayBufferBytes (measured as on the wire: each
// message's proto.Size plus gRPC's 5-byte message header; default 256 KiB, negative: never
// buffer), or when its per-attempt timeout passes on an answered attempt (below). A caller that
// does not read the header keeps an attempt that fails after sending its header (before its
// first message, and before its per-attempt timeout) retryable. Before that, every message sent
// is kept; a failed attempt is replaced by a new stream on which the kept messages are sent
// again in order, and the send side closed again if the caller had closed it. For a
// client-streaming call the failure usually shows at CloseAndRecv: the receive then reopens,
// replays, closes and receives again, so the caller sees one call. Header, before the stream
// commits, does the same with an attempt the server ended without a header, as grpc's own
// retries do: it returns the header of the attempt it retried to (or nil, nil, as grpc does,
// when the failure is not retried: the status is the receive's). A send that fails on a dead
// attempt (io.EOF) is kept for the replay and reported as sent; the failure surfaces at the
// next receive. Messages must not be modified after SendMsg, as grpc already requires. Any
// other error of a send (the client's own, such as a message over the send limit) ends the
// stream, as it does in grpc, without a retry, also when a replay meets it (a message kept
// while its attempt was dead). A send after CloseSend is the caller's error: it returns
// Internal and ends the stream, as in grpc, and is never kept for a replay. The per-attempt
// timeout applies to a stream only until it commits, and an attempt it ends reads as
// DeadlineExceeded to the policies below, as a unary attempt's does; the budget bounds the
// whole stream. It bounds the server's answer, not its caller's reading: when it passes on an
// attempt of a call with server streaming whose server has sent its response header (grpc-go's
// servers send it with their first message, or at SendHeader) while no receive waits on the
// stream, the caller is the one who is late, and the stream commits to the attempt, as gRFC A6
// commits a call once its header arrives, instead of ending it: the caller reads what the
// server sent and sends on, and no retry follows. An attempt that gRPC ended with the server's
// status alone (a trailers-only response: an error at once, a business one say) is left be too:
// the server answered in time, RecvMsg returns that status, and the loop decides on it, which
// the policies below see as it is, not as a timeout (a breaker counted a failure for each
// business answer read late). An attempt without a header that is still open, or with a receive
// waiting on it (a header, then the server's silence), is ended and retried as ever; what gRPC
// had buffered of it, handed over after the end (a reply, a header the caller reads late, as
// when the timer fired before the attempt's header was seen), does not commit the stream of a
// call with server streaming: the reply is not delivered, and the attempt is retried as timed
// out, so that the next attempt's replay gives the caller a whole stream. To know of the
// header, each attempt of a call with server streaming and a per-attempt timeout has a
// goroutine of its own that waits in its Header (one allocation), and ends with the attempt. A
// client stream has none: its one response comes with its status when the server's handler
// returns as it answers, and a cancel after them changes nothing; grpc-go's SendAndClose sends
// the response, and the status follows when the handler returns, so a handler that lingers
// after answering until the timeout passes has its answered attempt ended and retried (the
// server sees it twice; the caller gets the answer). The caller's RecvMsg and Header on the
// attempt wait for that Header to return, which neither would return before, as gRPC's stream
// does not make them safe beside it. Its Header is the one call of an attempt made with no
// caller in it: should it panic, the panic is recovered and ends the stream as a panic of
// Header does (below), without going on. Abandoned attempts are canceled. An attempt with a
// per-attempt timeout that ends (its timeout, a retry, the end of the stream) has the contexts
// derived from its own below (gRPC's stream's) done, with its error, before the call that ended
// it goes on, as below a cancelable context; when the caller's context or the budget ends it,
// the context package ends them. The committed attempt is reported (its AttemptFinished, the
// retry budget) when the stream ends, with the status it ends with: a server stream that fails
// after its first message is a failed attempt. A stream that ends while nobody reads or writes
// it (internal/streamend: its caller's context ends, or gRPC ends the committed attempt, as its
// ClientConn's shutdown does) reports its last attempt then, once, with the error of the
// context that ended (the caller's, or the committed attempt's: its service config's timeout is
// DeadlineExceeded), and releases what it holds; a receive that fails meanwhile returns that
// error once the report is out, so that the attempt's AttemptFinished comes before what the
// caller's end brings (a suite's CallFinished). The ClientConn's shutdown ends a stream not yet
// committed too: the stream then commits to its current attempt (a shut down ClientConn retries
// nothing: a new attempt fails at once, Canceled), whose end gRPC's shutdown makes the
// stream's, so its attempt is reported as gRPC ended it (Canceled, as gRPC reports a closed
// ClientConn) and what it holds (the budget's timer, the policies' above it) is released,
// without its caller reading it or canceling its context; a receive under way returns the
// attempt's error, not retried, and one sleeping before a retry returns at once, Canceled, as a
// unary call's sleep does (see What is retried). A panic while an attempt opens, sends or
// receives, or in its Header, Trailer or CloseSend, ends the stream, what it holds released
// (later calls return Internal), and goes on to the caller (but for the Header of the
// per-attempt timeout's watcher, above, which has no caller). So does a panic of the observer
// or the classifier on an attempt's outcome: the stream is not retried at the next call.
// Neither is called with the stream's lock held.
//
// # Events
//
// With an observe.Sink (WithObserver, or WithCallObserver for one call), the policy emits
// AttemptFinished for every attempt, RetryScheduled before each sleep (Attempt: the request
// that failed; Delay: the sleep) and RetriesExhausted when it gives up after a retryable
// outcome (Attempt: the requests sent; Reason as in the table above). Under PerAttemptCut
// CutOvertaken it emits AttemptSpared, once, for each attempt whose timeout came and did not
// cut it (Attempt: the attempt's number, a unary round's first; Delay: the per-attempt
// timeout), from the timer's goroutine: a unary attempt's before its AttemptFinished; a
// stream's once the stream's lock is given up. A panic of the observer on it has no caller to
// go to: it is recovered and dropped, and the attempt runs on. Without a sink, no event is
// built.
//
// Each request sent is reported by exactly one AttemptFinished, numbered over the call. When a
// hedging policy below the loop hedges a round (the suite's arrangement), it reports every
// attempt of the round, its first included, and the loop reports none of them; the next
// round's attempts are numbered after them. Every other number and count follows suit, over
// the requests sent rather than the loop's rounds: RetryScheduled's Attempt is the request
// whose failure the round returned (the hedging policy tells which: the one whose pushback
// binds the loop most, else the last to fail), RetriesExhausted's Attempt, Info.Attempts and
// the ExhaustedError's "(after N attempts)" count every request, hedges included, as the
// suite's CallFinished does. A retry of 2 attempts around a hedge of 2 that all fail says 4
// (TestUnderRetryCountsRequestsNotRounds). MaxAttempts still bounds the loop's attempts, each
// of which a hedging policy below may make a round of several requests.
//
// A call made with Disable emits nothing, but through a suite its one request is reported all
// the same (see Disable): a unary call's when it returns, a stream's when the stream ends,
// however it ends (internal/streamend: its caller's context ending while nobody reads it, or
// its ClientConn's shutdown, included), unless a hedging policy below reported the requests
// itself. A request that panics (the invoker, or a method of the stream) is not reported, with
// or without Disable, as the suite sends no CallFinished for its call.
//
// # Options
//
// New takes Options (WithClock, WithRand, WithClassifier, WithObserver), which are not
// grpc.CallOptions. What one call may change is a CallOption, passed with the call (or to Do):
// WithMax, WithIdempotent, Disable, Report, WithCallObserver. Reading them costs no allocation
// when a call carries none.
package retry
