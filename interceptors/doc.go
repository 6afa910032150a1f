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
// The order is the sections' ranks (section.Rank): the suite builds each step with its
// section's Build (section.Spec), so a policy registered by another package runs in its place
// too, with no change here.
//
// # Cost per call
//
// A method's unary chain is composed once; a call borrows a pooled runner whose step-to-step
// invokers are bound already, so the chain allocates nothing per call. The per-attempt
// policies (breaker, adaptive throttle, rate limiter, bulkhead) are gates (section.Gate),
// entered in order in one frame (section.Gates), the call continued once, and exited in
// reverse order, instead of nesting one interceptor in the next; the retry loop keeps its
// per-call state off the stack (pooled). A chain that is a retry loop followed by gates alone
// (every built-in profile without hedging or fallback) needs no runner: the loop runs the
// gates itself and makes a call's first attempt before setting up its retry state
// (retry.Policy.InvokeGated), which only a failed attempt needs. The full suite thus adds
// about 1.4 KB of stack under a call (2.2 KB when it makes the attempt's context itself),
// so that a call made from a fresh goroutine fits its first 8 KB stack as a raw call does,
// instead of growing it to 16 KB (benchmarks: BenchmarkStackDepth, BenchmarkInflight);
// TestSuiteStackUnderCall holds the ceiling. When a retry step follows the deadline step, the deadline is declared to the retry
// loop rather than put in a context around it (retry.Policy.InvokeTimed): each attempt then
// has one context, whose deadline is the earliest of the caller's, the deadline policy's, the
// budget's and the per-attempt timeout's — the deadline the server sees is the same as with
// nested contexts. The suite, the deadline, the loop and, on a call's first attempt, a local
// rate limiter share the call's clock readings (section.Timing, section.Clocked): a successful
// call reads the clock 3 times with an observer and 2 without (TestClockReadsPerCall), one
// fewer when grpc keeps the attempt's deadline (below).
// With a caller deadline, the full suite with Prometheus metrics allocates 7 objects per call
// more than a raw call (that context, its timer, and grpc's copy of the trailers read for
// pushback); TestSuiteAllocsOverRaw holds the ceilings. Streams keep the nested form.
//
// Dialed with its service config as well (Suite.ServiceConfigOption), the suite leaves the
// per-attempt deadline to grpc where it can: grpc makes a context for every call anyway, and
// a method config's timeout makes it a deadline context, one per stream, so one per attempt.
// A retry step whose attempts reach grpc through gates that cannot wait (section.Instant: the
// breaker, the adaptive throttle, a local rate limiter and a bulkhead without a wait) then
// makes no context when grpc's timeout for the method is its own per-attempt timeout: 2
// objects per call over a raw call instead of 7, and about half of what the deadline costs in
// time. grpc's timeout is read from the connection (ClientConn.GetMethodConfig, under its
// lock) at most once a second per chain, connection and method while it is set (for up to
// eight methods and connections per chain, as a chain shared by a service's methods serves); a service
// config a resolver changes is followed within that second. The server sees the same
// deadline; the attempt's timeout then starts when grpc opens the stream, after the gates,
// instead of before them.
//
// # Resolution
//
// Each call's full method is resolved once (config.Config.Resolve) and its chain cached. Methods
// without overrides of their own share their service's policy objects: one breaker, one
// bulkhead, one rate limiter, one adaptive throttle, one hedging policy (which learns a delay
// per method: package hedge) and one retry budget per service. A method with its own overrides
// gets its own object for each section it changes, named by its full method, and for each
// section whose object captures one of those (a method with retry settings of its own has a
// hedging policy of its own, drawing on its own retry budget).
//
// Names outside the configuration and the registered descriptors (a generic proxy forwards
// any; names can come from input) resolve as their service does and share its chain, unless
// its policy has a part per method (a method-scoped breaker, a fallback): then each such name
// has a chain and objects of its own. A service outside both has a chain and objects of its own
// too. Such names and services are bounded, at DefaultUnlistedLimit (1024) per suite unless
// WithUnlistedLimit says otherwise, the first ones kept for the suite's life; past the bound, a
// name (and, within it, a name or service longer than 1024 bytes, which is never kept: a
// :path may be megabytes long) goes through its service's overflow chain ("/<service>/*", one method-scoped breaker
// for them all), and a name of a service outside both through the suite's ("/*/*", service
// "*"), so that calls stay protected and the memory, the objects and the level sources
// (Levels) stay bounded. Every event of a call through the suite's overflow chain names the
// service "*" and the method "/*/*" (see WithUnlistedLimit), so that the metrics' labels stay
// bounded too.
//
// These objects are per service (or method), never per backend: over several replicas behind
// grpc's load balancing, a breaker counts the attempts of every replica together, and a
// retry is a new pick of grpc's balancer. Ejecting a sick replica is grpc's outlier detection,
// set in the base service config given to ServiceConfigOption (README, "Several backends").
//
// # Reload
//
// Reload applies a new configuration atomically: calls in flight keep the chain they started
// with; new calls use the new one. A policy object whose fingerprint did not change (its
// section, and the classifier, budget and shared objects it uses; see internal/objcache) is
// kept, so a breaker's state, a bulkhead's slots in use, a limiter's tokens and a retry budget
// survive a reload that does not touch them. A bulkhead whose max_wait alone changed is kept
// too, with its slots in use: calls that wait for a slot once the reload commits wait up to
// the new max_wait, a wait the call's ClientConn's shutdown ends as it ends one of a bulkhead
// built to wait, and a rejected reload leaves the old one (section.Spec.Retune). Levels
// reads the objects' levels live. A reload forgets the objects no chain of the new
// configuration can use, and the objects with levels whose settings it changed but no chain
// of it has taken yet (a chain built on a first call takes its new ones at its next call),
// and reports each object with levels it forgets or replaces retired (observe.Retired), so
// that an observer drops what it kept of it: a bulkhead's or a throttle's to the suite's sink,
// a breaker's to the breaker's own observer, the one that got its BreakerPublished and its
// changes (the suite's sink for a breaker it made; for one it took from a registry given by
// WithBreakerRegistry that another suite made, that suite's), once per breaker. Not a breaker
// that such a registry still holds, or that another suite sharing it still holds: other
// suites may use it; the registry retires it once it replaces or forgets it, else the last
// suite that holds it does, to its maker's observer all the same.
//
// Suites given one breaker registry share one breaker per name (see breaker.Registry): a
// reload that changes a breaker's settings while another suite holds it is refused
// (breaker.ErrSharedConflict, naming the breaker and the setting) instead of replacing it
// under the other suite; once no other suite uses the name, it replaces it. A suite whose
// classifier differs from the one the shared breaker was made with judges its own outcomes by
// its own classifier.
//
// A reload is all or nothing. A configuration rejected for its content (by Validate, by a
// step that does not fit its method, by a fleet-wide limiter's factory) changes nothing: the
// objects the reload built for its other chains are dropped, their closers run, and the
// suite's objects, its breaker registry and its limiter registry's shared buckets stay as
// they were, states included. A chain built on a method's first call is all or nothing too.
// What would refuse such a chain whatever its method (a fleet-wide limit without a remote
// limiter factory, in the default profile or a service's) refuses the configuration at once.
//
// # Per-call options
//
// The grpc.CallOptions of the policy packages (retry.WithMax, retry.Disable, retry.Report,
// hedge.Disable, bulkhead.WithMaxWait, ratelimit.WithMaxWait, ...) pass through the suite to
// their policy.
//
// # Events
//
// The suite emits observe.CallFinished for every logical call (attempts made: the requests
// sent, retries and hedges alike, as AttemptFinished numbers them; final code and class, whole
// duration); its policies emit the rest of the event stream to the same sink. Observing changes
// nothing a call does: the attempts are counted by the chain's runner, as entries to the step
// after the retry loop and the hedging policy (or, in a chain without a runner, by the retry
// loop), and a
// chain without a retry section has no retry step, observed or not (the suite then emits the
// AttemptFinished of its one attempt itself). A call that panics (its invoker, a method of its
// stream, a policy or a sink of the program's) ends without CallFinished, and the attempt
// that panicked without AttemptFinished (there is no outcome to report): the panic goes on,
// unchanged, after the suite has released what the call held (a stream's, at the panic, not
// when the caller's context ends: internal/streamend), with a retry step or without. So does a stream that ends while no RecvMsg or SendMsg of its
// caller runs (its caller gave it up, or grpc ended it unread, as when its ClientConn shuts
// down): the suite cannot tell how it ended.
//
// That holds too for a stream the server fails at once (a trailers-only response: no header,
// the status in the trailers) whose caller reads Header, which returns nil, nil as grpc's does,
// and then cancels its context (or closes the ClientConn) without a RecvMsg: no CallFinished;
// in a chain without a retry section, its one attempt reported Canceled, not with the server's
// status, and its breaker counting it as neither success nor failure. Only RecvMsg returns that
// status. grpc's Trailer holds the trailer metadata without grpc-status and grpc-message, and
// the stream's context ends Canceled whatever the status. A RecvMsg of the suite's own would
// race the caller's (grpc allows one at a time) and run the steps below it, which may answer
// into the caller's message (a fallback). A grpc.OnFinish option would see the status, but it
// must be given when the stream opens, as grpc runs it inside the Header that finds the stream
// trailers-only: every stream would carry one, a closure of its own (one allocation more a
// stream). A caller that wants the status counted reads the stream to its end (RecvMsg,
// CloseAndRecv), as grpc asks of every stream. In a chain with a retry section, the retry's
// stream reads that status itself in Header, to decide whether to retry it: its AttemptFinished
// and RetriesExhausted carry it, the suite's CallFinished still does not.
//
// A Suite is safe for concurrent use.
package interceptors
