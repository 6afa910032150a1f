// Package throttle is client-side adaptive throttling (Google SRE book, "Handling Overload"):
// when a service has been turning requests away, the client stops sending most of them, and
// fails them locally at no cost to the service, until the service accepts again.
//
// A breaker reacts to failures by stopping all traffic for a while; the throttle instead sheds
// just the share of traffic the service has been refusing, continuously, so an overloaded ML
// inference service gets back the capacity that doomed requests (and their retries) would have
// taken from it.
//
// # Use
//
// The policy works without gRPC, in two steps:
//
//	t, err := throttle.New("kyc.v1.OCRService", throttle.Config{})
//	if err := t.Allow(method); err != nil {
//		return err // a *codes.Rejection wrapping ErrThrottled
//	}
//	err = call()
//	t.Record(codes.Default().Classify(err))
//
// For gRPC, t.Unary() and t.Stream() throttle every call of a connection. Use one Throttle per
// service, shared by every connection to it. UnaryClientInterceptor(name, cfg, opts...) and
// StreamClientInterceptor build a Throttle of their own and return its interceptor, or the
// error of New: the shape every bulwark policy package shares.
//
// An Option (WithClock, WithObserver, WithClassifier, WithRand) is given to New and is not a
// grpc.CallOption: passing one to a call does not compile. What one call may change is a
// CallOption: Disable takes the call out of the throttle (never rejected, never counted), for a
// health check or an operator's probe; WithCallClassifier classifies its outcome with another
// classifier. Reading them allocates nothing.
//
// # Shared by a service's methods
//
// A suite gives each service one throttle, named by the service, which every method of the
// service without throttle settings of its own shares, whatever the method's classifier: a
// method whose only override is classifier entries counts on the service's throttle, and the
// service's throttling covers its calls. The shared throttle counts each method's outcomes as
// that method's classifier judges them: an outcome the method's classifier calls business is an
// accept, whatever the service's classifier calls it. A reload that changes only a method's
// classifier keeps the throttle and its counts. A method with throttle settings of its own has
// a throttle of its own, named by its full method, judged by its own classifier.
//
// # Algorithm
//
// Over a sliding window (Config.Window, two minutes by default) the throttle counts requests,
// the requests it was asked to send, and accepts, the requests the service took. Before each
// request it computes the rejection probability
//
//	p = max(0, (requests − K·accepts) / (requests + 1))
//
// and rejects the request locally with probability p, drawing a uniform number in [0, 1)
// (WithRand; math/rand/v2 by default): a draw below p rejects. While the service accepts at
// least one request in K, requests stay at most K·accepts and p is 0: the throttle costs
// nothing. Past that, p rises with the share refused, towards 1.
//
// A locally rejected request still counts as a request (and never as an accept). This is what
// makes the throttle adaptive: while the service refuses, the client's demand keeps growing the
// requests count, so the share it lets through keeps shrinking, down to 1 − MaxRejectProbability.
//
// # What counts
//
// Outcomes are classified by a codes.Classifier (WithClassifier, also as a call option;
// codes.Default otherwise; in a suite, a method sharing its service's throttle with a
// classifier of its own has its outcomes classified by its own):
//
//	| class                                 | counts as                               |
//	| ------------------------------------- | --------------------------------------- |
//	| success, business                     | a request and an accept                 |
//	| transient, throttled, server_fault    | a request, not an accept                |
//	| canceled, rejected                    | nothing                                 |
//	| (rejected locally by this throttle)   | a request, not an accept (by Allow)     |
//
// A business error (InvalidArgument for an unreadable document, NotFound, PermissionDenied) is
// the answer of a service that took the request, so it is an accept. ResourceExhausted,
// Unavailable, DeadlineExceeded and Internal are requests the service did not serve. A call
// the caller cancelled says nothing about the service, and a rejection by another bulwark
// policy (an open breaker, a full bulkhead) never reached it: neither counts. The interceptors
// also count nothing for a call whose invoker (or a method of whose stream) panics, or whose context the caller cancelled,
// whatever its error, and pass a call or stream whose context had already ended before it
// began (its deadline passed) to grpc, which fails it before sending anything, unthrottled and
// uncounted.
//
// A stream is admitted when it opens and counted once, when it ends: opening fails; SendMsg
// or Header fails other than with io.EOF; RecvMsg returns an error (io.EOF is the normal end: an accept);
// RecvMsg returns the single reply of a stream that is not server-streaming (an accept); or the
// caller's context ends first (cancelled: nothing; deadline passed: DeadlineExceeded, a request
// that is not an accept by default); or gRPC ends it while nobody reads it, as when its
// ClientConn shuts down (grpc.ClientConn.Close, which gRPC counts as releasing a stream):
// nothing, as no status was seen.
//
// # Choosing K
//
// K is how many requests the client sends per request the service accepts before it starts
// rejecting. p is 0 as long as the service accepts at least one request in K, so:
//
//   - K = 2 (the default, the SRE book's) tolerates up to half of the requests being refused;
//     at exactly half, the formula sits at its boundary, 0. It wastes some of the service's
//     capacity on requests it refuses, in exchange for reacting only to real overload.
//   - K = 1.5 starts throttling once a third is refused: against a service refusing half, the
//     throttle settles at its cap.
//   - K = 1.1 is aggressive: it throttles as soon as about one request in eleven is refused.
//     Little capacity is wasted, but a service that recovers is slow to get its traffic back,
//     and a small burst of errors already sheds load.
//   - K = 1 is refused. The requests the throttle rejects count (see Algorithm), so once the
//     service accepts everything again the share let through grows by a factor of about K per
//     window: at 1 it grows only by a request or two a window, whatever the demand, and a
//     throttle at its cap would stay near it for hours under steady demand.
//     Just above 1 recovery is as slow as K is close to 1: from the default cap, K = 1.1 takes
//     about a dozen windows to let everything through again, K = 2 three.
//
// Lower K for services whose refusals are expensive (each one costs a model inference
// started), raise it when refusals are cheap and traffic must flow.
//
// # The cap and MinRequests
//
// MaxRejectProbability (0.9 by default) caps p, so that some requests always reach the
// service and the throttle can see it recover: a throttle that rejected everything would never
// count another accept. MinRequests keeps p at 0 until the window holds that many requests,
// so that a handful of early errors on a quiet service does not throttle it (0 by default: the
// formula alone decides, and its +1 already softens the first few).
//
// # Window and recovery
//
// The window is cut into 20 buckets, so it slides in steps of a twentieth of its length: an
// outcome counts for between 95 % and 100 % of Window after it was recorded, then leaves with
// its bucket. Buckets expire lazily when the throttle is next used; no goroutine or timer runs.
//
// Recovery is gradual when traffic continues: the requests the throttle rejects still count,
// so once the service accepts everything again the share let through grows from
// 1 − MaxRejectProbability until accepts catch up. The window slides, so the accepts it
// gathers count at once and the growth compounds: by more than K per window under steady
// demand (about 1.2-fold for K = 1.1, 2.4-fold for K = 1.5), and with K = 1.5 the throttle is
// back to p = 0 within about three windows (TestRecoveryPace). When traffic stops, the old
// counts simply expire. Reset empties the window at once (for an operator who knows the
// service is back).
//
// # Events and errors
//
// With WithObserver, each local rejection emits an observe.Rejected event with Policy
// adaptive_throttle, Code Unavailable, Class rejected, Reason ADAPTIVE_THROTTLE, the full method,
// the service, and Value the rejection probability at the time. Events carry nothing of the
// request. Probability is what a gauge reads: a Throttle is an observe.LevelSource, which
// observe/promobs's Scrape reads (alone or through the suite that holds it).
//
// A rejection is a *codes.Rejection: status.Code(err) is Unavailable (the service is treated
// as unable to take the request), errors.Is(err, ErrThrottled) is true, and the status carries
// a google.rpc.ErrorInfo (reason ADAPTIVE_THROTTLE, domain codes.Domain, metadata
// policy=adaptive_throttle and service). It gives no RetryAfter: the probability falls as the
// service recovers, not at a known time. bulwark's classifier reads the rejection as Rejected:
// it is never retried and never counted by breakers, other throttles or retry budgets.
//
// # Concurrency and cost
//
// A Throttle is safe for concurrent use; so is the function given to WithRand, which must be.
// Allow and Record each read the clock once (with clock.Real, the monotonic clock alone; a
// local rejection with an observer reads it again for its event) and take the window's mutex
// for a few additions: about 100 ns for the pair on a 2-core machine, no allocation. The
// window keeps running totals, so neither scans it. A lock-free window was measured against
// this one and was not faster (bench_test.go). A local rejection allocates its error.
package throttle
