// Package otelobs records bulwark's retries, hedges and rejections on OpenTelemetry traces.
//
// grpc-go's stats handlers, and otelgrpc built on them, see requests, not logical calls: a call
// that made four attempts and slept six seconds between them shows as four unrelated client
// spans, or, with grpc-go's own retries, as one. otelobs adds the logical call.
//
//	tracer := otelobs.New(otelobs.WithTracerProvider(tp))
//	suite, _ := interceptors.New(cfg, interceptors.WithObserver(metrics), interceptors.WithObserver(tracer))
//	conn, _ := grpc.NewClient(addr, append(append(tracer.DialOptions(), suite.DialOptions()...),
//		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(otelobs.StatusCodeOnly(tp)))), creds)...)
//
// # What a trace shows
//
// The tracer's interceptor, installed before (outside) the suite's, starts one span per
// logical call, "bulwark /kyc.v1.OCRService/Extract", of kind internal, a child of the caller's
// span (a method name longer than observe.MaxKeptName, which only a proxy forwarding what it
// is sent would pass, is clipped in it: observe.Clip). On it:
//
//	| span event               | when                           | attributes                                                              |
//	| ------------------------ | ------------------------------ | ----------------------------------------------------------------------- |
//	| bulwark.attempt          | an attempt ended               | bulwark.attempt, bulwark.policy, bulwark.hedge, rpc.grpc.status_code, bulwark.class, bulwark.duration_ms |
//	| bulwark.retry_scheduled  | a retry will follow a sleep    | bulwark.attempt (the failed one), rpc.grpc.status_code, bulwark.class   |
//	|                          |                                | (its outcome), bulwark.backoff_ms, bulwark.pushback                     |
//	| bulwark.retries_exhausted| retrying stopped               | bulwark.attempts, bulwark.reason (max_attempts, budget, deadline, ...)  |
//	| bulwark.attempt_spared   | a per-attempt timeout came and | bulwark.attempt (the attempt let run on), bulwark.timeout_ms            |
//	|                          | let the attempt run on         | (the timeout): retry's per_attempt_cut: overtaken, no later answer      |
//	| bulwark.hedge_sent       | a hedge left                   | bulwark.attempt, bulwark.hedge.after_ms, bulwark.reason                |
//	| bulwark.rejected         | a policy of ours refused the   | bulwark.rejected_by, bulwark.reason, bulwark.retry_after_ms, bulwark.breaker.state |
//	|                          | call, or a hedge (see below)   | (and bulwark.attempt, for a hedge)                                      |
//	| bulwark.fallback_served  | a fallback answered instead    | rpc.grpc.status_code, bulwark.class (of the error it replaced), and     |
//	|                          |                                | bulwark.reason when that was a policy's refusal (CIRCUIT_OPEN, ...)     |
//
// The call span carries the method as OpenTelemetry's RPC conventions name it, and as
// otelgrpc's spans of the call's requests do: rpc.system.name ("grpc") and rpc.method (the
// full method without its leading slash, "kyc.v1.OCRService/Extract", clipped as the span's
// name is). They are set on a span that records, after its Start: a sampler reads the method
// in the span's name. The status code keeps the older convention's name, rpc.grpc.status_code
// (an int), not otelgrpc's newer rpc.response.status_code (a string): a compatibility choice.
//
// And, as span attributes, the call's outcome: bulwark.class (the classifier's class of the
// final outcome), rpc.grpc.status_code, bulwark.attempts, bulwark.duration_ms,
// bulwark.hedge.winner, bulwark.fallback (true when a fallback answered: the call then ends OK,
// its class success), bulwark.abandoned (a stream that ended unread, below), and for a
// rejected call the bulwark.rejected event's attributes. The
// span's status is Error, described by the code's name alone, when the call did not end OK.
//
// A hedge that a policy below the hedging one refused (a full bulkhead, an empty rate limit,
// an open breaker), while the call went on without it, gets a bulwark.rejected event of its
// own, with the hedge's bulwark.attempt, at the time of the refusal: beside the hedge's
// bulwark.attempt event (class rejected), it says who refused the hedge and why. The call
// span's attributes stay those of the call's end. The hedging policy sends it to the call's
// recorder (see package hedge), one at most per hedge sent, so these events are bounded by
// the call's attempts, as the attempt events are.
//
// WithCallSpan(false) records all this on the caller's active span instead of a span of its
// own, for a caller that already opens one span per call. A call nested in such a call, made
// with its context through a tracer again (a fallback's Func asking another service, an
// interceptor below the suite, even of the same method), finds the same span there and, while
// the outer call runs, records nothing on it: the span shows the outer call's events and
// outcome alone. A nested call that should show opens a span of its own around it, or runs
// through a tracer with call spans.
//
// # Span events, not child spans
//
// Attempts are span events on the call span, not spans of their own. otelgrpc's client stats
// handler already makes one client span per request the suite sends (each attempt and each
// hedge is a separate grpc call under the suite), and those spans are children of the call
// span since the suite passes the call's context down. A span per attempt from otelobs too
// would count every attempt twice and double the spans exported; a span event is cheap, keeps
// the order and timing of attempts and sleeps on one timeline, and also covers what otelgrpc
// never sees: the backoff sleep between attempts, and attempts a policy refused before any
// request left (breaker open, bulkhead full), which have no otelgrpc span at all. Without
// otelgrpc the call span still tells the whole story.
//
// # How events find their span
//
// observe.Event carries no context. The interceptor puts a per-call recorder in the call's
// context with observe.WithCallSink; the suite sends that call's own events (attempts,
// retries, hedges, the call's end) to it as well as to its usual sink. Events of shared
// objects (breaker transitions, and observe.BreakerPublished, which a breaker sends when it is
// put in service, with its first state) reach the Tracer through
// interceptors.WithObserver: it keeps each breaker's last state, which it reports when a breaker rejects a call (for 4096 breakers
// at most, none of a name longer than observe.MaxKeptName; "open" for one past them). A call
// of another method made with the call's context through a suite the tracer does not front (a
// fallback's Func asking another service, say) sends its events to the same recorder: they are
// left off the span, which records its own call's alone. One of the call's own method so made
// (a fallback asking a standby of the same service) cannot be told from the call by its events,
// which carry no call of their own: they show on the call's span, its status Error when that
// call failed. Give such a suite's connection the tracer's DialOptions too: a call through the
// tracer nested in a traced call records on a span of its own, a child of the call's, or, with
// WithCallSpan(false), nowhere. A call sink the caller's context already
// carries (observe.WithCallSink: the caller's own per-call consumer) still gets every event
// the suite sends: the recorder, which takes its place in the call's context, passes them on.
// A call that nothing records costs one
// context lookup and nothing else with WithCallSpan(false); with the default call span, it
// costs the provider's Start and End of a span its sampler drops (with the OpenTelemetry SDK,
// two allocations).
//
// # No personal data
//
// Attributes hold method names, numbers, codes, classes and policy reasons. Request and
// response messages are never read, and a status message, which a service may fill with the
// request's content, is never recorded: the span status carries the code's name only.
//
// otelgrpc's client stats handler describes the status of each failed request's span by the
// server's status message. Give it StatusCodeOnly(tp), as above, rather than tp: its spans keep
// the Error status and otelgrpc's status code attribute, and drop the description.
//
// # Module
//
// otelobs is a module of its own (github.com/bulwarkrpc/bulwark/observe/otelobs), like promobs
// and zapobs, so that a program that does not trace takes no OpenTelemetry module into its
// module graph: no core package imports it (internal/depcheck's TestCoreDependencies) and the
// core's go.mod requires none of its dependencies (TestCoreGoModRequires).
//
// A streaming call's span ends with the suite's CallFinished (the stream read to its end or
// failed), or with the stream's own end when no suite below reported it. A stream that ends
// unread, its context ended while no RecvMsg or SendMsg ran (the caller gave up on it, or gRPC
// ended it with nobody reading) or its ClientConn shut down, is not reported by the suite, since the caller never saw how
// it ended (the metrics leave it out); its span ends then all the same, with
// bulwark.abandoned set and the code of the context's end (Canceled or DeadlineExceeded), so
// that the spans of its attempts never point at a parent that never appears.
//
// Tracer is safe for concurrent use.
package otelobs
