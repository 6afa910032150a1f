// Package interceptors is bulwark's suite: from a config.Config it builds, for every gRPC
// service and method a connection calls, the ordered chain of policies, and serves it as one
// unary and one stream client interceptor.
//
//	suite, err := interceptors.New(config.Builtin(), interceptors.WithObserver(metrics))
//	conn, err := grpc.NewClient(addr, append(suite.DialOptions(), creds)...)
//
// # The flow of one call
//
//	caller ctx ─► observe ─► fallback ─► deadline (default / cap / total budget)
//	  └─► retry loop ── for each attempt ──► hedge ── for each hedged attempt ──►
//	        breaker ─► adaptive throttle ─► rate limiter ─► bulkhead ─► grpc invoker
//
// Hedging runs inside the retry loop: each retry is a hedged round, and hedges draw on the same
// retry budget (retry.throttle), so retries and hedges together cannot multiply the load on a
// sick service. Every attempt, hedges included, not every call, passes breaker, throttle,
// limiter and bulkhead. A breaker that is open rejects before the throttle counts a request, a
// token or a slot is taken; the bulkhead slot is released during backoff
// sleeps; the total budget bounds retries and sleeps alike. A policy whose section is off in the
// profile is left out of the chain; the deadline step is always there, since the global budget
// (config.Config.Budget, 8 s by default) caps every call's deadline.
//
// # Resolution
//
// Each call's full method is resolved once (config.Config.Resolve) and its chain cached. Methods
// without overrides of their own share their service's policy objects: one breaker, one
// bulkhead, one rate limiter, one adaptive throttle, one hedging delay estimate and one retry
// budget per service. A method with its own overrides
// gets its own object for each section it changes, named by its full method.
//
// # Reload
//
// Reload applies a new configuration atomically: calls in flight keep the chain they started
// with; new calls use the new one. A policy object whose settings did not change is kept, so a
// breaker's state, a bulkhead's slots in use, a limiter's tokens and a retry budget survive a
// reload that does not touch them.
//
// # Per-call options
//
// The grpc.CallOptions of the policy packages (retry.WithMax, retry.Disable, retry.Report,
// hedge.Disable, bulkhead.WithMaxWait, ratelimit.WithMaxWait, ...) pass through the suite to
// their policy.
//
// # Events
//
// The suite emits observe.CallFinished for every logical call (attempts made, final code and
// class, whole duration); its policies emit the rest of the event stream to the same sink.
//
// A Suite is safe for concurrent use.
package interceptors
