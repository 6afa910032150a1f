// Package ratelimit bounds the rate of calls a client makes to a service with a token bucket,
// so that a client sheds its own excess load before a service has to.
//
// # Limiters
//
// A Limiter hands out tokens; it is one method (Take) so that a fleet-wide store can implement
// it (see the redislimit package). Local is the in-process token bucket: it holds up to Burst
// tokens and refills at Rate tokens per second, by the injected clock, so a fake clock drives
// it exactly. It answers as golang.org/x/time/rate's bucket does (its tests compare the two on
// random runs of times), from one atomic number, the time at which it is full again, that a
// take moves with a compare-and-swap: no lock, no float arithmetic on a free token (the
// generic cell rate algorithm; see Local).
//
// Take answers at once when a token is free, or when maxWait is 0 (fail fast). Otherwise it
// reserves the next token and waits for it with one timer, unless the wait would exceed maxWait
// or last until the context's deadline or past it, in which case it reserves nothing and
// answers at once, as x/time/rate's WaitN does:
//
//	| situation                                   | Take returns                             |
//	| ------------------------------------------- | ---------------------------------------- |
//	| a token is free                             | Allowed                                  |
//	| no token, maxWait 0                         | not Allowed, RetryAfter = time to refill |
//	| next token after maxWait, at/after deadline | not Allowed at once, RetryAfter          |
//	| next token within both                      | Allowed, after waiting for it            |
//	| the context ends while waiting              | ctx.Err(), the token given back          |
//	| the context has ended before the take       | ctx.Err(), no token taken                |
//
// A waiter gives its token back as x/time/rate's does: not after the token fell due (at its
// very tick it still does), nor when another take has reserved a later token since (a
// reservation gives back its tokens less those reserved after it).
//
// # Shared buckets
//
// A Registry hands out one Local per Config.Shared name, so several services or methods can draw
// from one bucket. Asking for a shared name with another rate or burst is an error
// (ErrSharedConflict) within one configuration; after Registry.Reconfigure (a suite's Reload)
// it replaces the bucket, so that a reload can change a shared bucket's rate; a suite's reload
// puts the new bucket in the registry only once all its chains are built, so that a rejected
// reload leaves the registry as it was. Each user of a registry (Registry.User: each suite
// given one registry) has a configuration of its own: users with the same settings share one
// bucket, and a user that changes them leaves the others their bucket until they change too. config.Config.Validate refuses a configuration that gives a
// shared name two rates or bursts.
//
// A bucket made anew, shared or a service's own (a suite's reload that changes a
// rate_limit section replaces the service's policy and its bucket), starts full: the tokens
// taken from the one it replaces are not carried over. A fleet-wide bucket keeps its state in
// Redis across such a reload (see redislimit).
//
// A caller whose context has ended takes no token; the interceptors pass its call or stream to
// grpc, which fails it before sending anything, with the context's code.
//
// A take at an earlier time than one before it (a call that read the clock before another but
// reached the bucket after it) finds the tokens that one took gone, since the time at which the
// bucket is full again never moves back: no span of time refills twice.
//
// # Policy and rejections
//
// A Policy applies a Limiter to a service's calls. A call that gets no token is rejected with a
// *codes.Rejection: code ResourceExhausted, reason RATE_LIMITED, Err ErrLimited and RetryAfter
// from the limiter, so the status carries a google.rpc.RetryInfo with the delay. When the
// bucket is a shared one (Config.Shared), Err wraps ErrLimited and names the bucket, and so
// does the status's message ("rate_limit rejected call to kyc.v1.OCRService: rate limited by
// shared bucket "ml" (retry after 1s)"): the service looked at may not be the one that drained
// it. The reason and class are those of any other refusal for want of a token. A limiter that
// cannot decide (a remote store is down and the limiter fails closed) gives code Unavailable,
// reason RATE_LIMITER_UNAVAILABLE, and an Err that wraps ErrUnavailable and the limiter's
// error; it carries no RetryInfo, since the limiter cannot tell when its store will answer
// again (redislimit's probe pause ends in one probe, which may fail). Like every rejection it is
// class rejected: the suite's retry and hedge do not repeat it, and no breaker or adaptive
// throttle counts it, nor a ratio retry budget as a call, as the service was never called (a
// retry or hedge refused so was paid for when it was allowed). A remote limiter that
// fails open decides by a local bucket instead: Allowed, or RATE_LIMITED with that bucket's
// RetryAfter. Each rejection emits an observe.Rejected event (Delay is the RetryAfter).
//
// # Interceptors
//
// Unary takes one token per call; Stream takes one token when a stream opens, none per message.
// A call or stream whose deadline passes while it waits for its token (a fleet-wide store that
// answers late) is rejected as one whose token would come after its deadline (RATE_LIMITED),
// not failed with the deadline's error: it never reached the service, and the policies above
// that learn from outcomes (a breaker, an adaptive throttle) must not count it against it.
// A call or stream waiting for a token of a limiter that is a ConnLimiter (a bucket of this
// process, Local, and redislimit's fleet-wide one) when its ClientConn shuts down
// (ClientConn.Close) ends at once, as gRPC ends the calls it holds and as a retry's backoff
// sleep does: the interceptors, and a suite's chains, enter the policy with the call's
// ClientConn (section.ConnGate), and the policy takes its token with TakeConn (whether its
// limiter is a ConnLimiter is decided in New). It returns Canceled, "ratelimit: the client
// connection is closing (ClientConn.Close during the wait for a token)" (ErrConnClosing); a
// Local gives back the token it had reserved, as for a canceled context; redislimit's wait
// ends too, whether a sleep between two round trips (after a denial that took no token) or a
// round trip in flight (left to finish on its own goroutine within the Redis timeout, or twice
// that when it gives back in Redis a token it took for nobody, as for a canceled context). It is no
// refusal: no Rejected event is sent (a suite's CallFinished reads Canceled). The ClientConn
// is watched by one goroutine per ClientConn, asked for only by a call that waits (ConnDone).
// A Limiter that is no ConnLimiter is given no ClientConn (Take knows only a context): its wait
// runs until the token comes, maxWait passes or the context ends, and grpc then fails the call
// at once, Canceled. A suite's chain decides, before a call runs it, whether its limiter may
// wait (section.Gates.Decide): a Local one whose MaxWait is 0 is entered with Enter (EnterAt),
// given no ClientConn, so that a call through gates that never wait does no more for the
// ClientConn; a call its caller gives WithMaxWait there is sent back by Enter (EnterAt) with
// section.ErrNeedsConn, having taken nothing, and the chain enters the policy again with the
// ClientConn (EnterConn), so that its wait too ends at the shutdown. A fleet-wide limiter, whose every Take is I/O, is always
// entered with the ClientConn. Unary and Stream, and a stream's open in a suite, always watch
// the ClientConn.
// UnaryClientInterceptor(name, l, cfg, opts...) and StreamClientInterceptor build a Policy of
// their own and return its interceptor (or the error of New), the shape every bulwark policy
// package shares.
//
// # Options
//
// An Option (WithClock, WithObserver, WithRegistry) is given to New, NewLocal or NewRegistry
// and is not a grpc.CallOption: passing one to a call does not compile. What one call may
// change is a CallOption: WithMaxWait, passed to a call, sets how long that call may wait for
// a token instead of Config.MaxWait. Reading it allocates nothing.
//
// # Concurrency and allocations
//
// Local, Registry and Policy are safe for concurrent use. Taking a free token allocates nothing
// (see bench_test.go); a wait allocates its timer.
package ratelimit
