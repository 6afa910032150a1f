// Package hedge sends a second (third...) copy of a slow gRPC call before the first has
// answered, and keeps whichever answer comes first: gRFC A6's hedging policy, with a hedging
// delay that can learn itself from the method's recent latencies.
//
// It cuts tail latency where the tail comes from the server side of one attempt — a GPU
// worker stalled on garbage collection, a cold model replica, a queue behind one huge
// document — at the price of a few extra requests. The policy works as unary and stream client
// interceptors (Policy.Unary, Policy.Stream). Its CallOptions (Disable, WithIdempotent,
// WithCallObserver) change one call; its Options build the policy (see Options below). A
// Policy is safe for concurrent use.
//
// # How a call is hedged
//
// Attempt 1 starts at once. Each time the hedging delay passes with no answer, one more
// attempt starts, up to Config.MaxAttempts in all. Attempts race; the first outcome that ends
// the call wins, every other attempt is canceled (its context, so the server sees the
// cancellation), and the caller gets the winner's reply or error:
//
//	| an attempt ends with                          | class (default table)          | then                                       |
//	|-----------------------------------------------|--------------------------------|--------------------------------------------|
//	| success                                       | success                        | it wins                                    |
//	| a fatal outcome                               | business, server_fault,        | it wins: the caller gets the error as it is|
//	|                                               | canceled, rejected (attempt 1) |                                            |
//	| a hedge refused on this side (a full bulkhead,| rejected                       | the attempts in flight go on; no further   |
//	| the throttle, an open breaker below)          |                                | hedge is sent; the call's error only if    |
//	|                                               |                                | every other attempt is gone without one    |
//	| a non-fatal (retryable) outcome               | transient, throttled           | the attempts still in flight go on, and    |
//	|                                               |                                | hedges still go at their delay; when none  |
//	|                                               |                                | is left in flight, the call fails (below)  |
//	| a non-fatal outcome with pushback "stop"      | as above                       | no further hedge is sent (gRFC A6); those  |
//	| (grpc-retry-pushback-ms -1, RetryInfo < 0)    |                                | in flight go on                            |
//	| a non-fatal outcome with a pushback delay     | as above                       | the next hedge waits until the delay has   |
//	|                                               |                                | passed, if it was due sooner               |
//
// When every attempt failed, the call fails with the failure that binds the retry loop around
// it most: one whose server asked to stop (the first such), else the one with the longest
// pushback delay (the first of equal ones), else the last; the grpc.Header, grpc.Trailer and
// grpc.Peer call options get that attempt's. So a stop anywhere in a hedged round reaches the
// retry loop (it reads the stop from the error's RetryInfo or from the trailer, as for any
// attempt), and the call is not retried. Pushback is read as codes.Classifier.ClassifyTrailer
// reads it; the trailer of every attempt is read, through a grpc.Trailer call option of the
// hedge's own when the caller passed none.
//
// Outcomes are classified by a codes.Classifier (WithClassifier; codes.Default otherwise): gRFC
// A6's "non-fatal status codes" are the retryable classes. Unlike A6's hedging, which replaces
// retries and sends the next hedge at once after a non-fatal failure, a failure here starts
// nothing early: failures are the business of the retry policy that wraps the hedge (as in the
// interceptors suite), with its backoff, the server's pushback and its budget. A hedge sent at
// once on an Unavailable or a ResourceExhausted with RetryInfo would ignore all three. Hedging
// is for answers slow to come, not for errors. No further attempt starts once the call is
// decided, MaxAttempts were sent, the caller's context is done, less than retry.MinAttemptTime
// (5ms) is left before its deadline (as no retry starts then: such an attempt cannot finish),
// or the method's allowance of losing hedges or the budget refused one (see Budget).
//
// Under a retry loop, a per-attempt timeout that the round's context does not carry (a client
// stream's, which the stream's commit lifts, and any round's under per_attempt_cut: overtaken,
// which spares an attempt nobody overtook) is no deadline: its end is told the hedge through
// the round (attempt.Round.End), and may be lifted. A hedge due less than retry.MinAttemptTime
// before that end is held back, and the hedging timer looks again 5ms past the end: when the
// loop cut the attempt there, its context is canceled and no hedge goes, nothing spent
// (TestNoStreamHedgeNearThePerAttemptTimeout); when it spared it, the attempt runs on to the
// call's end, and the hedge goes then, the service being slow for every caller or the attempt
// stalled (TestUnderRetryASparedAttemptIsHedged, TestStreamUnderRetryASparedAttemptIsHedged).
// The timer looks again once per end: an end still told then closes the call to hedges, as a
// deadline does, and so does a deadline that leaves no room for a hedge after the look.
//
// The caller's deadline and cancellation apply to every attempt. When the caller cancels,
// every attempt ends at once and the call returns the cancellation. A call returns only
// when every attempt it started has returned, so nothing it started outlives the call, and
// the slots of a bulkhead further down the chain are all given back.
//
// Attempt 1 runs on the caller's goroutine and writes into the caller's reply; each hedge runs
// in a goroutine of its own and writes into a fresh message of the same type. When a hedge
// wins, attempt 1 is canceled and awaited, then the caller's reply is reset and the winner's
// merged into it: no two attempts ever write the caller's reply. The grpc.Header,
// grpc.Trailer and grpc.Peer call options likewise end up holding the winner's, and a
// grpc.OnFinish callback runs once, with the call's outcome, when the call returns (grpc would
// run it at the end of every attempt; on a stream it still does), or, when attempt 1 or the
// observer on attempt 1's events or on HedgeWon panics, with an Internal error as the panic goes
// on to the caller. Replies that are not proto
// messages (another codec) cannot be copied: such calls are not hedged.
//
// # The hedging delay
//
//	| Config                                 | delay                                                        |
//	|----------------------------------------|--------------------------------------------------------------|
//	| Delay set, Percentile 0                | fixed at Delay                                               |
//	| Percentile set (or both 0: p95)        | adaptive: the lower of the Percentile and MedianMultiple     |
//	|                                        | (default 3) times the median of the last Window latencies of |
//	|                                        | the method, within [MinDelay, MaxDelay]; Delay (default      |
//	|                                        | 100ms) until the first latency is known, and never above     |
//	|                                        | Delay until MinSamples are                                   |
//
// The adaptive delay is learnt per full method, from the first call on, and shared by all calls
// of the Policy; Policy.Delay tells what it is now. A Policy learns a delay of its own for the
// first 1024 full methods it sees; the names past them (a generic proxy, names from input)
// learn one together, so that what it keeps stays bounded, and so do names longer than 1024
// bytes, which it does not keep (a :path may be megabytes long). The starting Delay is also
// kept within [MinDelay, MaxDelay]. A call uses the delay in force when it starts, for all of
// its hedges: each goes a delay after the one before it was sent (gRFC A6), so hedge k goes
// (k-1)·delay after the call started unless pushback held one back, or a stall of the client
// sent one late: the hedges a stall made overdue are not sent all at once.
//
// Nor is a hedge sent while an attempt of the call waits at a gate below the hedge that queues
// it (a bulkhead with a max_wait, a rate limiter that waits for a token, in the interceptors
// suite or chained below the hedge as plain unary or stream interceptors; they tell the hedge
// through the attempt's call options). The client is then saturated, not the service slow: a
// hedge would queue behind that attempt, or take a slot ahead of other calls' first attempts,
// and pay the losing-hedge allowance and a retry-budget token to help nothing. A delay that
// passes while an attempt waits so sends nothing and costs nothing; once no attempt waits, the
// next hedge is due a delay after the last one left its gate (or later, when it was due
// later): the hedging timer runs from when an attempt left the client, not from when it began
// to queue (TestNoHedgeWhileTheFirstAttemptQueues). A client stream's hedge waits so as it
// opens its stream through the rest of the chain (the gates' stream steps, or their own Stream
// interceptors, tell it): while it does, no further hedge is sent
// (TestNoStreamHedgeWhileAHedgeQueues, TestNoStreamHedgeWhileQueuedInAGateChainedBelow). Its
// attempt 1 passed the gates when the stream opened, before the reply phase where its hedging
// begins.
//
// Why the median rule. Latency spikes (a GPU replica stalled for a second while the others
// answer in 20ms) make a distribution with two modes. A percentile alone sits on the spikes
// as soon as they are more common than 1-Percentile: at 5% spikes the p95 is the spike
// itself, and a hedge sent then arrives too late to matter. The options, compared on that
// scenario (20ms answers, 1s spikes at 0-10%; TestDelayStaysBelowSpikes, and BENCHMARKS.md's
// tail table for the whole orchestrator):
//
//	| rule                            | 0% spikes             | 1-3%             | 5-10%           | a slowdown for all |
//	|---------------------------------|-----------------------|------------------|-----------------|--------------------|
//	| p95                             | ~5% hedged            | below the spikes | on the spike    | ~5% hedged         |
//	| a lower percentile (p80), floor | ~20% hedged           | below            | below up to 20% | ~20% hedged        |
//	| k× the median alone             | ~0 hedged             | below            | below up to 50% | ~0 hedged; but a   |
//	|                                 |                       |                  |                 | wide tail: many    |
//	| the lower of p99 and 3× median  | ~1% hedged            | below            | below up to 50% | ~1% hedged         |
//	| (the default, with p95)         |                       |                  |                 |                    |
//
// A bimodality detector (a gap between two clusters) would do what the median rule does with
// more state and more ways to be wrong. The median stays in the fast mode while spikes are
// fewer than half the calls; the percentile keeps the delay low when the distribution is
// continuous (a heavy tail, where 3× the median may be far out). With p99 and the median
// rule, a service without spikes sees about 1% of its calls hedged, and a service slow for
// everyone (every call 5× slower) learns its new median and stays near 1 attempt per call:
// hedges never multiply the load of a slow service (and while a slowdown is being learnt, see
// Hedges that lose).
//
// The multiple, and MaxAttempts, follow from the spikes to be cut. At a spike rate r, a call
// whose first attempt spikes answers at delay + the normal latency; one whose first two
// spike, r² of the calls, needs the third attempt, sent at twice the delay; only three
// spikes in a row, r³, reach the spike. A KYC verification is three such calls at once, so
// 3r² of the verifications (0.75% at 5%, 1.9% at 8%) take 2·delay + the normal latency,
// right at the p99 of a batch. For 20ms answers, 3× the median (63ms) makes that 147-154ms,
// on a goal of 150ms; the built-in ml and ocr profiles use 2× (50ms, their floor): 121ms.
// Hedging the whole of a batch this way is asserted on a fake clock
// (TestSpikesFromColdStart: p99 72ms at 5% and 121ms at 8-10%, for 0.5s, 1s and 2s spikes
// and three seeds).
//
// # Cold start
//
// A new Policy (a restarted or newly scaled client) knows nothing. Until the first answer,
// calls use Delay: make it a few times the normal latency of the method, well under its
// spikes (the built-in ml and ocr profiles: 150ms for 20ms answers and 1s spikes). From the
// first answer on, the delay is learnt from the answers already in, recomputed after every
// answer at first (then every n/8, at most every Window/8), but held at most at Delay until
// MinSamples answers are known, so that a spike among the first answers cannot push it to
// the spike's length. After MinSamples the cap is gone: a service slower than Delay is
// learnt as it is.
//
// The latency samples are the durations of the attempts that succeeded, each its own, and of
// the attempts canceled because another won, once they had run at least the delay. The latter
// are lower bounds of latencies that are, in truth, longer still; counting them keeps the slow
// tail in the window. Leaving them out would be a feedback loop: every hedge that wins removes
// a slow latency, the percentile falls, more hedges go, and the delay sinks towards MinDelay.
//
// Under a retry loop (interceptors/retry, through attempt.Round), a round ended by the loop's
// per-attempt timeout after the delay is a lower bound too: its longest-running attempt is one
// sample, recorded once the loop has found that its per-attempt timeout, not the call's
// deadline, ended the round. Without it, a service slower than the per-attempt timeout for
// every call would answer no attempt in time, the delay would never learn the slowdown, and
// each round would send its hedges into certain timeouts
// (TestPerAttemptTimeoutTeachesTheDelay). So for a client stream's reply phase, which the
// loop's per-attempt timeout ends until the stream commits
// (TestStreamPerAttemptTimeoutTeachesTheDelay). The caller's own deadline ends the call: an
// attempt it ends is no sample.
//
// An attempt's duration is counted from when it left the last gate below the hedge that made
// it wait (in the interceptors suite: a bulkhead's queue, max_wait, or a rate limiter's wait
// for a token, which tell the hedge through the attempt's call options): the time it queued on
// this side of the wire is the client's saturation, not the service's latency, and counted,
// a saturated bulkhead would raise the delay (TestQueueTimeIsNoLatencySample).
//
// Other attempts that failed, or that were canceled by the caller, are not samples, nor are
// business errors: a server may refuse a request in a millisecond (validation,
// authentication), and with such answers for half the calls the median rule would take the
// delay down to MinDelay and hedge every call that succeeds
// (TestFastBusinessErrorsDoNotLowerTheDelay).
//
// The percentile (and the median) is the nearest-rank one: the smallest sample with at least
// Percentile of the samples at or below it. It is computed by one of the recording calls,
// from a ring of the last Window samples, with a selection algorithm in linear expected time
// and memory allocated once per method; recording a sample is two atomic operations and
// allocates nothing.
//
// # Eligibility
//
// Hedging sends the same request more than once, possibly all of them to completion. A method
// is hedged only when its descriptor declares idempotency_level NO_SIDE_EFFECTS or IDEMPOTENT
// (FaceMatchService.Compare, OCRService.Extract, LivenessService.Check), or when
// Config.Idempotent is set; the CallOption WithIdempotent overrides both for one call. Any other
// method (KYCService.Verify) goes straight to the invoker: one attempt, no timer, no event,
// no sample. So does a call with Disable.
//
// # Budget
//
// WithBudget makes every hedge draw from a Budget (Withdraw must succeed, else the hedge is not
// sent and no further hedge of that call is either). Pass the retry policy's per-service
// budget, retry.Policy.Budget(service) (the interceptors suite does), so that retries and
// hedges of one service together stay within one budget: a ratio budget (the built-ins') counts
// a hedge as a retry, against Ratio·calls + MinPerSecond·Window; gRFC A6's token bucket takes a
// token for it, as for a failure, and successes pay it back. Every hedge, the second attempt as
// the MaxAttempts-th, draws; a hedge a policy below refuses (it never reached the service)
// gives its draw back when the Budget is a Refunder, as *retry.RetryBudget is, so that only
// hedges sent are paid for. A retry policy without a budget (Config.Throttle unset) gives none:
// Budget returns nil. Without a budget hedges are bounded by MaxAttempts and the allowance
// below only.
//
// # Hedges that lose
//
// A hedge that wins cut a slow answer short; one that loses (it does not win the call: another
// attempt, sent before or after it, wins it, or it fails retryably) was load for nothing; so
// was one whose Canceled came after the caller canceled: the caller gave up, no hedge won. A
// hedge refused on this side of the wire (Rejected: it never reached the service) is not
// charged, neither to the allowance nor to the budget (see Budget). Each method of a Policy has
// an allowance of losing hedges: MaxHedgeShare (a quarter) of its calls, plus HedgeBurst (32).
// Every call adds a quarter of a hedge (up to 32), every hedge takes one, a hedge that wins
// gives it back, and a hedge the allowance cannot pay is not sent, nor any further hedge of
// that call. It is checked before the budget, and allocates nothing (an atomic counter). The
// names the Policy does not keep, those longer than 1024 bytes and those past the first 16384
// it sees (a generic proxy), share one allowance.
//
// It is what bounds a warm service that suddenly slows down for everyone: its window still
// holds the fast answers, so the median, and the delay, stay low until half of Window is
// slow, and meanwhile every call reaches the delay. Those hedges lose (the first attempt, as
// slow as they are, started earlier). Without the allowance each call would send one, or two
// with MaxAttempts 3, up to the retry budget's ratio plus what the calls before the change
// left in it: 1.8 to 3 requests per call for some 250 calls (TestWarmSlowdownHedgesAtMostAQuarter).
// With it, at most 1.25 (plus 32 requests) until the delay has learnt. Hedges that win are
// not limited by it: spikes are hedged at any rate the budget allows, even right after a
// stall of the client (a GC pause, a busy CPU) made every call in flight late at once and
// their hedges lose, which 32 is sized to absorb.
//
// To the policies below that learn from outcomes (a breaker, an adaptive throttle), a hedge
// whose context ended is a loser, class canceled, whatever ended it: the call decided, its
// caller gone, or the round's per-attempt timeout, which ends every attempt of the round at
// once (internal/outcome.Hedge). The round's first attempt carries that timeout, so a round in
// which every attempt hung is one failure, as a round a hedge won is one success; a hedge the
// service answered is classed as the answer. Counted as failures, the hedges of hung rounds
// weighed three to a won round's one, and with 30 % of requests hung their cuts, in bursts,
// opened breakers on 20 failures in a row (TestComposeHungRoundIsOneBreakerFailure).
//
// # Panics
//
// A panic of attempt 1 (on the caller's goroutine) goes on to the caller as it is, with its
// stack, once the hedges in flight have been canceled and have returned. A panic of a hedge (on
// a goroutine of its own) is recovered there, ends the call as a fatal outcome would (the other
// attempts are canceled and awaited), and is raised again with the same value on the caller's
// goroutine when the call returns: it reaches the caller as attempt 1's does, with the caller's
// stack rather than the hedge's. A hedge that calls runtime.Goexit is raised as a panic too. So
// is a panic of what runs for a hedge on its goroutine besides its attempt: the observer on the
// hedge's HedgeSent or AttemptFinished, the classifier, a stream hedge's Trailer, the Budget's
// Withdraw (the hedge is then not sent, and gives back what it took from the method's
// allowance). The hedge is still counted once: an observer's panic on its AttemptFinished comes
// after its outcome was taken, and the event is not sent again. A hedge whose HedgeSent panics
// is not sent: it gives back what it took from the method's allowance (MaxHedgeShare), and the
// retry-budget token it took to a Refunder (a *retry.RetryBudget; another Budget keeps it), and
// as the sinks told before the panic (an observe.Multi's before the panicking one, promobs'
// bulwark_hedges_total) counted it, it is reported by one AttemptFinished, as a hedge refused
// on this side of the wire is, class rejected (code Internal), with no Duration and its Reason:
// every HedgeSent has its AttemptFinished, and promobs' bulwark_hedges_refused_total counts it
// among the hedges that reached no service (the call's other attempts, which did, are canceled
// by the panic and reported canceled). A second panic of the observer, on that AttemptFinished,
// is dropped: the caller gets the first. A panic of what runs for attempt 1 on the caller's
// goroutine once it returned (the observer on its AttemptFinished or on the call's HedgeWon,
// the classifier) ends the call as a panic of attempt 1 does. The caller's context is the
// caller's code too: a panic of its Err or Deadline, read as an attempt's outcome is taken, as
// the hedging timer fires or as a hedge starts, reaches the caller as a panic (not an error),
// in the same ways, as grpc-go lets it reach the caller from where it reads the context; it
// never leaves the call's lock held, and a timer that fires into it sends no hedge. HedgeWon is
// sent once the call has taken the winner on: when the observer panics on it, the caller's
// reply, and the grpc.Header, grpc.Trailer and grpc.Peer call options, are the winning hedge's,
// and a client stream that a hedge won is the winner's stream for a caller that recovers the
// panic and reads on (RecvMsg, Header, Trailer, Context), with attempt 1's context and the kept
// messages released.
//
// # Metadata
//
// Each hedge carries the outgoing metadata grpc-previous-rpc-attempts (PreviousAttemptsKey):
// how many attempts of the call were sent before it, 1 on the first hedge. Attempt 1 carries
// none. Under a retry loop (package retry, which follows the same convention) the count runs
// over the whole call: a hedge in the second round, after a first round of one attempt,
// carries 2, in place of the retry's value. It keeps the retry's deprecated x-retry-attempt
// (retry.AttemptMetadataKey), the number of the retry whose round it belongs to: a hedge is
// that retry's request too, not a retry of its own; a hedge of the first round carries none.
// A hedge takes its number as it goes out, the next after the requests sent: one the timer
// made due but that never went (held back by a server's pushback, refused by the allowance or
// the budget) takes none, so that the requests of a call are numbered 1, 2, 3... with no gap
// and no number twice, in their events as in this header. grpc-go passes the keys through
// from metadata. When grpc-go itself retries an attempt transparently (the request never left
// the client), it adds its own value for that attempt: the server may then see two.
//
// # Streams
//
//	| stream kind                                       | hedged?                           |
//	|---------------------------------------------------|-----------------------------------|
//	| client-streaming (LivenessService.Check: frames   | yes, once the send side is closed |
//	| in, one reply)                                    |                                   |
//	| server-streaming, bidirectional                   | no: passed through                |
//
// A client stream runs as attempt 1 while the caller sends; every message sent is kept (up to
// Config.ReplayBufferBytes, 256 KiB by default, by proto.Size plus 5 a message, as retry's; a
// stream that sends more is not hedged, and a negative value turns the hedging of client
// streams off). The reply phase, the first RecvMsg (CloseAndRecv) after CloseSend, is hedged
// like a unary call: the delay runs from there, and each hedge opens a new stream through the
// rest of the chain, sends every kept message in order, closes its send side and receives. The
// latency samples of a stream method are measured from the same point, and a hedge's from the
// end of its replay, so they are the server's time to answer, not the client's upload (a hedge
// that ends before its replay does is no sample); each attempt's AttemptFinished Duration is
// its own, from its stream's open. Header, Trailer and Context answer from the winning attempt
// once RecvMsg has returned; a Header called while the reply phase runs waits for its winner. A
// header of attempt 1 read before the reply phase commits the stream to attempt 1, which is
// then not hedged: the caller never gets one attempt's header and another's reply. Messages
// must not be modified after SendMsg, as grpc already requires. A RecvMsg before CloseSend is a
// plain receive on attempt 1. When a method of the stream panics (attempt 1's SendMsg,
// CloseSend, Header, Trailer, or its receive), the panic goes on to the caller once the kept
// messages and attempt 1's context are released, and the hedges of a reply phase canceled and
// returned. A SendMsg that fails other than with io.EOF (grpc ends the stream with the client's
// own error) releases them as well. A panic of the observer on the reply phase's HedgeWon comes
// once the winner is the stream the caller sees (see Panics).
//
// Server-streaming and bidirectional streams are not hedged: their replies reach the caller
// one message at a time, so after the first message there is nothing left to race, and a
// bidirectional caller's next message may depend on the replies it got, which a replay to a
// hedge cannot reproduce.
//
// # Events
//
// With an observe.Sink (WithObserver), the policy emits, with Policy "hedge":
//
//	| event           | when                               | fields                                              |
//	|-----------------|------------------------------------|-----------------------------------------------------|
//	| HedgeSent       | a hedge starts                     | Attempt (its number, from 2), Delay (since the      |
//	|                 |                                    | first attempt of its round started), Reason (delay) |
//	| AttemptFinished | an attempt ends, the first         | Attempt, Code, Class (canceled for the losers),     |
//	|                 | included                           | Duration (the attempt's own)                        |
//	| HedgeWon        | an attempt other than the first    | Attempt (the winner), Code, Class, Duration (the    |
//	|                 | decides the call                   | whole call)                                         |
//
// Every attempt is reported once, the first included, so that attempt events count every
// request sent exactly once. Under a retry loop the policy finds the loop's round among the
// call options (see internal/attempt): it numbers its attempts over the call (HedgeSent and
// HedgeWon too) and the loop reports none of the round's attempts itself.
//
// A hedge refused by a policy below the hedge (a full bulkhead, the rate limit, the throttle,
// an open breaker) ends with class rejected. That policy sends its own Rejected event to its
// sink, knowing neither the call nor the attempt; the hedge sends the call's sink
// (observe.WithCallSink), and that sink alone, a Rejected event of its own for the hedge, so
// that a tracer can show on the call's trace why the hedge went nowhere while the call went on
// without it. It is not sent to the policy's sink (WithObserver, WithCallObserver): the
// rejection is counted once there, by the policy that refused. A hedge left unsent because the
// observer panicked on its HedgeSent (class rejected too: see Panics) has none: no policy
// refused it, and the call ends in the panic.
//
//	| event    | when                                | fields                                                |
//	|----------|-------------------------------------|-------------------------------------------------------|
//	| Rejected | a policy below refused a hedge (to  | Attempt (the hedge's), Policy, Reason, Delay (retry   |
//	|          | the call's sink only)               | after) of the refusal, Code, Class (rejected)         |
//
// The two times differ in where they start. HedgeSent's Delay is the hedging delay the policy
// waited before that hedge (with pushback, and k-1 delays for hedge k): it runs from the first
// attempt of the hedged round, the call's first attempt when no retry loop is around, and for
// a client stream from its reply phase (CloseAndRecv), where hedging begins, so that it reads
// against Policy.Delay whatever the retries before. HedgeWon's Duration is the whole call's:
// from the retry loop's start under one (its earlier rounds and sleeps included), else from
// the call's start (a client stream's open).
//
// # Options
//
// New takes Options (WithClock, WithClassifier, WithObserver, WithBudget), which are not
// grpc.CallOptions. What one call may change is a CallOption, passed with the call: Disable,
// WithIdempotent, WithCallObserver.
//
// Events carry the method, codes, attempt numbers and times, never request or reply content.
// Calls that are not hedged emit nothing. Without a sink, no event is built.
//
// # Cost
//
// A call answered before the delay costs a cancelable context for attempt 1 (2 allocations;
// none under a retry loop that gave the attempt a context of its own, whose cancel serves),
// the Reset and Stop of a pooled timer, and one latency sample (see bench_test.go). The
// timer, the per-call state and the attempt bookkeeping are pooled and reused.
package hedge
