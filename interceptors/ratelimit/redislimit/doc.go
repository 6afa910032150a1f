// Package redislimit is the fleet-wide rate limiter: a ratelimit.Limiter whose bucket lives in
// Redis, so that every replica of a client draws from one limit instead of each having its own.
//
//	lim, err := redislimit.New("kyc.v1.OCRService", cfg, redislimit.WithObserver(sink))
//	...
//	defer lim.Close()
//	policy, err := ratelimit.New("kyc.v1.OCRService", lim, cfg)
//
// A Limiter is safe for concurrent use.
//
// # With the suite
//
// Package interceptors does not import this package, so that a program without a fleet-wide
// limit does not link a Redis client. A suite builds the limiters of rate_limit.redis sections
// through the factory it is given:
//
//	suite, err := interceptors.New(cfg, interceptors.WithRemoteLimiter(redislimit.Factory(nil)))
//
// Factory(nil) dials each section's address; Factory(client) shares a client of the program's.
// Without WithRemoteLimiter a rate_limit.redis section is an error when the suite is built.
//
// # How it works
//
// The bucket is a GCRA (generic cell rate algorithm) cell in the layout of redis_rate
// (github.com/go-redis/redis_rate), run by a script of this package: one key holds the
// bucket's theoretical arrival time (TAT). Each Take is one round trip, an EVALSHA of the
// script, which reads Redis's clock (TIME), admits the call if the TAT is at most Burst emission
// intervals ahead of it, and moves the TAT one interval (1/Rate) further. The script runs
// atomically in Redis, so concurrent replicas never both take the last token.
//
// The script does not trust the key: a key that holds no string (a list, a hash, another
// program's) or a value that is not a finite number is no state this limit writes. The script
// deletes the key and the Take is a limiter fault, answered by the fail mode below; the next
// Take starts from a full bucket. Only limiters of this rate and burst write the key (it names
// them: see Key layout), so a TAT further ahead of Redis's clock than the limit's span (Burst
// intervals) is no state they wrote at this clock: Redis's clock stepped back (a failover to a
// replica whose clock is behind), or another program wrote the key. It is clamped to the span,
// an empty bucket under this limit, and the call is denied for one interval: the limit is
// never locked for the value's distance, and no fault is counted. A wait read back from Redis
// is checked too (a positive number of seconds below a century), so RetryAfter never
// overflows and a denial always waits before asking again.
//
// Config.Rate is in calls per second and may be fractional: a whole rate is sent as Rate calls
// per second, any other as one call per 1/Rate, to the nanosecond (0.5/s is one call per 2s,
// 2.5/s one per 400ms). Config.Burst 0 means max(1, ceil(Rate)), as for the local bucket. A
// rate above MaxRate (1e6 per second) is refused, by the configuration's validation already:
// the times the bucket keeps in Redis are too coarse for shorter intervals.
//
// When Redis denies a call it says how long until a token is free. Take returns that delay as
// Decision.RetryAfter (the ratelimit policy puts it in the rejection's RetryInfo, which the
// retry policy and callers honour), unless maxWait allows the wait and the caller's deadline
// is after it: then Take waits that long (on the injected clock) and asks Redis again, until
// maxWait is spent.
//
// A Limiter is a ratelimit.ConnLimiter: the ratelimit policy, in a suite's chain or in its
// interceptors, takes a call's token with TakeConn, given the call's ClientConn, whose waits
// (a round trip to Redis, the sleep until the delay Redis computed, and the fail-open guard's)
// end at once when that ClientConn shuts down (ClientConn.Close): TakeConn returns
// ratelimit.ErrConnClosing, which the policy returns as Canceled, "ratelimit: the client
// connection is closing (ClientConn.Close during the wait for a token)". A sleep follows a
// denial, which takes no token from the bucket, and the guard's token it had reserved is given
// back, as for a context that ends there. A round trip in flight at the shutdown is left as a
// canceled caller's is (see Fail modes): Redis is not blamed (no fail mode, no Degraded, no
// probe pause; a probe's claim is given back), and the round trip goes on, within the Redis
// timeout, on its goroutine, which gives back in Redis a token its answer took for nobody.
// An answer handed over as the ClientConn shuts down stands: a token it grants is the call's,
// which grpc then fails at once, Canceled.
//
// # Fail modes
//
// Each round trip is bounded by RedisConfig.Timeout (50ms by default) and by the caller's
// deadline. When the caller's context ends first (its deadline, or a cancel: go-redis does not
// see a cancel, so Take runs the round trip on a goroutine of its own for a context that can
// be canceled, and TakeConn for one given a ClientConn too, which ends with the round trip,
// within the Redis timeout, or twice that with a token to give back), Take returns ctx.Err()
// at once: Redis is not blamed. The round trip's goroutine owns an answer that arrives after
// the caller left (exactly one of the two receives each answer): when it admitted the call,
// the goroutine gives the token back in Redis, with one more script, bounded by the Redis
// timeout, that moves the TAT back one interval, never below Redis's now (a bucket full again
// is a deleted key), and leaves a missing or invalid key alone. So canceled callers, and
// callers of a ClientConn closed during a Redis stall, cost the fleet no capacity, as a local
// bucket's reservation its canceled caller did not use is given back. A give-back that fails
// is dropped (nobody waits for it): that token goes unused.
// Only a context that has ended makes the error the caller's: a round trip that timed out as
// the caller's deadline passed, while its context does not report that within the Redis
// timeout, is a limiter fault, so a fail-open limiter never refuses a call for it.
//
// Set RedisConfig.Timeout below the deadlines of the calls it limits (the default 50ms is
// below most). With a timeout as long as a caller's deadline or longer, a stalled Redis ends
// that call with DeadlineExceeded, the caller's own error: the fail mode never answers it,
// even failing open, Degraded() does not count it and no probe pause starts, so every later
// call waits on Redis until its deadline too, for as long as the stall lasts.
//
// When Redis fails (refused, reset, timed out, an error reply), the fail mode answers:
//
//	RedisConfig.FailOpen  the call is                                         Take returns
//	true                  admitted if a local guard (same rate and burst,     Decision (allowed or
//	                      in this process) has a token, else denied with its  denied), nil
//	                      own RetryAfter (maxWait applies)
//	false                 refused                                             *UnavailableError
//	                                                                          (errors.Is ErrUnavailable)
//
// Either way Degraded() counts the call and a LimiterDegraded event is emitted with Reason
// fail_open or fail_closed. The ratelimit policy turns the error into an Unavailable rejection.
//
// The guard means an outage of Redis does not mean unlimited load, but it is per process: N
// replicas admit up to N × Rate between them while Redis is down.
//
// # Probe pause
//
// After a failed round trip the Limiter stops asking Redis for a while (DefaultProbeInterval,
// 1s; see WithProbeInterval): calls are answered by the fail mode at once (a fail-closed
// refusal names the pause and the failure that started it, and matches that failure). When
// the pause is over, one call probes Redis while the others keep the fail mode; if Redis
// answers, shared limiting resumes, else a new pause starts. A probe whose caller's context ends first learned
// nothing: the next call probes. Measured on a 2-core machine with a stalled Redis
// (SIGSTOP) and the 50ms timeout: 50.9ms per call without the pause, 5.1ms mean over 10 calls
// with it (the first pays the timeout, the next nine answer in microseconds).
//
// A Redis that comes back may be asked again up to a second after the pause says: once a
// go-redis client has failed PoolSize dials (counted over its life, not in a row), it answers
// every command at once with the last dial error until a dial of its own, once a second in
// real time, succeeds. A probe in that second fails at once and starts a new pause, so after
// an outage shared limiting resumes within the probe interval plus a second (the fail mode
// answers meanwhile), whatever WithProbeInterval says.
//
// # Key layout
//
// One key per limiter name and limit: "rate:" (redis_rate's own prefix), then
// RedisConfig.KeyPrefix ("bulwark:ratelimit:" by default), then the limiter's name, then the
// limit: ":", its emission interval (1/Rate) in nanoseconds, ":", its burst (after the
// default of Burst 0). For Rate 10 and Burst 20:
//
//	rate:bulwark:ratelimit:kyc.v1.OCRService:100000000:20
//
// The interval is a whole number when it is one (0.5/s: 2000000000; 2.5/s: 400000000), else
// the shortest decimal that reads back as the same float64 (3/s: 333333333.3333333).
// Limiter.Key returns the key.
//
// Its value is the TAT, in seconds since 2017-01-01 on Redis's clock, and it expires once the
// bucket would be full again (at most 1e15 seconds on, the longest expiry Redis takes with
// room to spare), so idle limiters leave nothing behind. A Redis ACL for the limiter's user
// (one the program's own client logs in as: see Factory) needs the key pattern
// rate:<prefix>* and the commands EVALSHA and EVAL, and those the scripts (the step and the
// give-back) call, which Redis checks against the same user: TIME, TYPE, GET, SET and DEL. In
// Redis Cluster the single key lives on one slot. Names are service or bucket names, never
// anything about a request.
//
// # What is shared
//
// Every Limiter with the same key (prefix, name, rate and burst) against the same Redis shares
// the bucket's state. Limiters of one name with other limits have a bucket each: the rate and
// burst are not stored in the bucket, each call sends its own, and a limit that read another's
// TAT through its own span would hand the other fresh tokens (a smaller span clamps the TAT it
// finds further ahead). So while two configurations run (a rolling deploy, or a reload of some
// replicas that changes the rate or burst), the fleet admits at most what the two limits allow
// together, and a change of limit starts the new configuration from a full bucket of its own;
// the old configuration's key expires once its bucket would be full again. Not shared: the
// fail-open guard, the probe pause, Degraded() and maxWait waits, which are each process's own.
// The limiters one Factory builds for a bucket (the services of a rate_limit.shared name, with
// the same rate and burst) and one clock share one guard; each has its own probe pause and
// Degraded(). Services of one shared name with different rates or bursts share neither: their
// keys differ, so each limit is a bucket of its own.
//
// # Clocks
//
// The bucket runs on Redis's clock, not on the clock given by WithClock: under a fake clock
// the shared bucket still refills in real time, and round trips are bounded in real time. The
// injected clock times maxWait waits, the fail-open guard's refill and the probe pause; the
// round trip reads ctx's deadline as a real time (as context.WithTimeout does). All
// replicas read the one Redis clock, so their own clocks need not agree; a failover to a
// replica whose clock differs moves every bucket by the difference.
//
// A round trip that timed out may still be run by Redis later (a stalled server runs its
// queued scripts when it resumes), taking a token nobody used: with no answer, the limiter
// cannot know whether Redis ran the step, and gives nothing back. The TAT is a double of
// seconds, which resolves about 60ns today: ample for rates up to about a million calls per
// second.
//
// # Clients
//
// New makes a client of its own, tuned to answer within the timeout (context deadlines
// honoured, no command retries, one dial attempt, dial, read, write and pool waits bounded by
// the timeout), and Close closes it. NewWithClient takes a client the caller owns (a
// redis.UniversalClient: single node, Sentinel, Cluster), which must honour context deadlines
// (ContextTimeoutEnabled, and no ReadTimeout or WriteTimeout of -2, which sets no socket
// deadline at all); Close leaves it open. Its command retries are its own (go-redis has no
// option to turn them off for one command): with MaxRetries above 0 (3 by default) it runs
// the step's script again when the connection closes before the reply (EOF), which may be
// after Redis ran it, so one Take may take two tokens or more. Give the client of
// NewWithClient or Factory(client) MaxRetries: -1 (a client of its own for the limiters, if
// the program's other commands want retries). A suite's Factory(nil) dials as New does, one
// client per address and timeout shared by the limiters it builds, closed with the last of
// them (see Factory).
//
// # Cost
//
// Measured on a 2-core machine shared with other work, against a local redis-server
// (BenchmarkTake): an admitted Take costs one Redis round trip, 50–75µs serially and 40–60µs
// per call under b.RunParallel, with 22 allocations (900 B), 24 (1080 B) under a context that
// can be canceled or through TakeConn given a ClientConn (a gRPC call's: the round trip's
// goroutine); a bare PING through go-redis
// takes 30–50µs. x/time/rate takes 90–125ns and no allocation: the shared limit costs about
// 400–800 times more per call. During a probe pause a fail-open Take costs 105–190ns, no
// allocation.
package redislimit
