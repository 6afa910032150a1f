// Package bulkhead bounds how many calls to a service are in flight at once, so that one slow
// dependency cannot take every goroutine, connection and byte of memory of its caller.
//
// # Policy
//
// A Bulkhead holds Capacity slots. A call takes one with Acquire (or TryAcquire) and gives it
// back with Release. A call that finds every slot taken is rejected at once, unless
// Config.MaxWait allows it to queue. Waiters are admitted first in, first out: a freed slot goes
// to the caller that has waited longest, never to a newcomer.
//
// A waiter waits until the earlier of MaxWait and its context's deadline, and is rejected then:
//
//	| what happens first          | Acquire returns                          |
//	| --------------------------- | ---------------------------------------- |
//	| a slot frees                | nil (the caller now holds the slot)      |
//	| MaxWait passes              | *codes.Rejection (BULKHEAD_FULL)         |
//	| the context's deadline      | *codes.Rejection (BULKHEAD_FULL)         |
//	| the context is canceled     | ctx.Err() (context.Canceled)             |
//	| its ClientConn shuts down   | ErrConnClosing (AcquireConn; see below)  |
//
// A context whose deadline has already passed is rejected at once when no slot is free. The
// interceptors pass a call or stream whose context had already ended before it began to grpc,
// which fails it before sending anything, without taking a slot (so not as BULKHEAD_FULL, and
// no sample for an adaptive limit).
//
// A call or a stream's open waiting for a slot in the interceptors (Unary, Stream, and a
// suite's chains, which enter the bulkhead with the call's ClientConn: section.ConnGate) when
// its ClientConn shuts down (ClientConn.Close) ends at once, as gRPC ends the calls it holds,
// and as a retry's backoff sleep does: it returns Canceled, "bulkhead: the client connection
// is closing (ClientConn.Close during the wait for a slot)", leaves the queue, and holds no
// slot (one granted to it as the shutdown came is given back). It is no refusal: no Rejected
// event is sent (a suite's CallFinished reads Canceled), and it gives an adaptive limit no
// sample. The ClientConn is watched by one goroutine per ClientConn, asked for only by a call
// that waits. A direct caller gets the same with AcquireConn, given the ClientConn its call is
// made on: it returns ErrConnClosing (the status above); Acquire, given no ClientConn, waits
// as the table says until MaxWait, the deadline or a cancel.
//
// A suite's chain decides whether its bulkhead may wait, from its MaxWait, before a call runs
// the chain (section.Gates.Decide), and enters a bulkhead that may not with Enter, given no
// ClientConn, so that a call through gates that never wait does no more for the ClientConn. A
// reload that changes MaxWait alone keeps the bulkhead and gives it its new MaxWait as it
// commits: the chains it built decide then, after the bulkhead has it, so that a MaxWait
// raised from 0 is a wait cut short at the shutdown, and one lowered to 0 costs a call no
// more. A call given WithMaxWait by its caller on a bulkhead whose MaxWait is 0 that finds no
// free slot does not wait in Enter: Enter returns section.ErrNeedsConn, holding nothing, and
// the chain enters the bulkhead again with the ClientConn (EnterConn), so that its wait too
// ends at the shutdown; one that finds a free slot takes it at once, as any call. Unary and
// Stream, and a stream's open in a suite, always watch the ClientConn.
//
// # Rejections
//
// A rejection is a *codes.Rejection with code ResourceExhausted, reason BULKHEAD_FULL, policy
// "bulkhead", the bulkhead's service as the service, and an Err that is or wraps ErrFull, so
// that both errors.Is(err, bulkhead.ErrFull) and status.Code(err) answer. Its message tells a
// saturated bulkhead from a slow one: a call that found no free slot and could not wait reads
// "bulkhead full"; one that queued and whose wait (MaxWait, or its deadline) ran out reads
// "bulkhead full: no slot came free while the call waited (...)". The reason is BULKHEAD_FULL
// either way, so metrics, alerts and dashboards keyed by it count both. It carries no
// RetryInfo: a bulkhead cannot tell when a call in flight will end. Every rejection emits an
// observe.Rejected event to the sink given by WithObserver, naming that service and the call's
// method (Acquire's: the bulkhead's own, if any); with no sink nothing is built.
//
// # Names
//
// The name given to New says which bulkhead it is: a service's ("kyc.v1.OCRService"), one
// method's (the full method "/kyc.v1.OCRService/Extract", as a suite names the bulkhead of a
// method with a bulkhead of its own), or one shared by several (any other name). Rejections,
// events and levels name a service and, for a method's bulkhead, the method: the full method's
// service and the full method itself, so that a method's bulkhead and its service's are told
// apart (promobs labels their gauges with service and method), never one full method taken for
// a service. Any other name is the service, unless WithService names one.
//
// # Shared by a service's methods
//
// A suite gives each service one bulkhead, named by the service, which every method of the
// service without bulkhead settings of its own shares, whatever the method's classifier:
// MaxConcurrent is the service's cap, fixed or adaptive, and a method whose only override is
// classifier entries does not get a cap of its own beside it. An adaptive limit shared so
// tells overload from the rest in each method's calls with that method's classifier: an
// outcome a method's classifier calls business is no drop, whatever the service's classifier
// calls it, and the same outcome of a method that leaves it transient is one. A reload that
// changes only a method's classifier keeps the bulkhead, with its slots in use, and judges the
// method's later calls by the new classifier; one that changes the service's classifier
// replaces an adaptive bulkhead (its limit starts afresh). A reload that changes only
// max_wait keeps the bulkhead, fixed or adaptive, with its slots in use and its limit: calls
// that wait for a slot from then on wait up to the new max_wait (Config says it), calls
// waiting already keep theirs. A method with bulkhead settings of
// its own has a bulkhead of its own, named by its full method, judged by its own classifier.
//
// # Interceptors
//
// Unary and Stream apply a Bulkhead to gRPC calls; UnaryClientInterceptor(name, cfg, opts...)
// and StreamClientInterceptor build a bulkhead of their own and return its interceptor (or the
// error of New), the shape every bulwark policy package shares. A unary call holds its slot
// until the invoker returns, or panics. A stream holds its slot for its whole life and gives it
// back exactly once, when the first of these happens: opening the stream fails; RecvMsg returns
// an error (io.EOF included); RecvMsg returns the only reply of a stream that is not
// server-streaming; SendMsg or Header fails other than with io.EOF; RecvMsg, SendMsg, Header,
// Trailer or CloseSend panics (as the panic goes on); the stream's context ends (the caller
// canceled it, its deadline passed, or gRPC finished the stream; a RecvMsg or SendMsg running
// then gives the slot back when it returns); its ClientConn shuts down (grpc.ClientConn.Close,
// which gRPC counts as releasing a stream). gRPC's end of the stream is watched only once the
// stream is committed (a RecvMsg or Header returned, or its Context was asked for): watching it
// sooner would turn off gRPC's retries of the stream (see internal/streamend); the ClientConn's
// shutdown is watched from the stream's open, by one watcher per ClientConn. A caller that
// abandons a stream without canceling its context or closing the ClientConn, which grpc-go
// forbids, holds the slot until gRPC ends a committed stream, and until its context ends one it
// never read.
//
// A hedging policy (interceptors/hedge) chained above Unary or Stream, outside a suite, is told
// of a call's or a stream hedge's wait for a slot, as a suite's is: it sends no further hedge
// while an attempt waits here, and does not learn the wait as the service's latency.
//
// # Options
//
// An Option (WithClock, WithObserver, WithClassifier, WithService) is given to New and is not a
// grpc.CallOption: passing one to a call does not compile. What one call may change is a
// CallOption: WithMaxWait, passed to a call, sets how long that call may wait for a slot
// instead of Config.MaxWait. Reading it allocates nothing.
//
// # Adaptive limit
//
// With Config.Adaptive.Algorithm set, the limit is no longer fixed: it moves with what the
// calls measure, between Adaptive.MinLimit and MaxConcurrent (the ceiling), starting at
// InitialLimit (default: the larger of MinLimit and MaxConcurrent/4). Capacity returns the
// current limit, so the Prometheus exporter's bulwark_bulkhead_capacity follows it, and every
// change of the integer limit emits an observe.LimitChanged event (Value the new limit, Reason
// the algorithm, Duration the latency of the call that moved it): at most one per call.
//
// Each call that ends is a sample: its latency and its outcome, read by the classifier
// (WithClassifier, default codes.Default(); in a suite, a method sharing its service's bulkhead
// with a classifier of its own has its outcomes read by its own). A throttled outcome
// (ResourceExhausted: the server, or a proxy, sheds load) is a drop, a sign of overload. A
// transient one (Unavailable, DeadlineExceeded, Aborted, ...) is a drop only if the call held
// its slot for at least the time a healthy answer takes: LatencyThreshold for AIMD, Tolerance
// times the baseline for the gradient. A faster one is no sample: a random fault at the
// service's normal latency (a replica restarting, a connection reset) is no sign of a queue,
// and the breaker and the adaptive throttle, not the bulkhead, answer a failure rate. Each such
// fault was a drop, so that every round trip brought one rise and one back-off: with a 100-slot
// ceiling, unlimited demand and 20-25 ms answers, 5 % of fast Unavailable held the limit near
// 15 and 20 % near 8, with either algorithm, and the built-in ml profile sat at its floor
// through the faults of a brownout; now the gradient and AIMD with a LatencyThreshold stay at
// the ceiling, while a service that sheds with Unavailable after three times its latency still
// takes the limit to 20-40 (TestRandomFastFaultsKeepTheLimit). AIMD without a LatencyThreshold,
// or a gradient before its first answer, has no such time and counts every transient failure as
// a drop (see AIMD).
//
// A canceled call (one whose caller canceled its context, whatever error it ended with), or
// one refused by a bulwark policy, is no sample. Nor is a business error (InvalidArgument,
// NotFound, ...): a server may refuse a request in a millisecond, before the work the method
// does (an image without a face refused before the GPU runs), and with such answers for most
// calls their latency hid the queue of the calls doing the work: the limit went to the ceiling
// at six times the service's knee. A server fault (Internal, Unknown, DataLoss) is no answer
// either: a broken service may fail every call in a millisecond, which looks like a service
// without a queue; counted as answers, 30 s of such failures took the limit from about 25 to
// the ceiling, and the service, once it recovered, met about six times its knee at once. It is
// judged as a transient failure is, by the time it held its slot: a drop if it took at least
// the time a healthy answer takes (a worker's own timeout under its queue, answered Internal),
// no sample if it was faster. Where there is no such time (AIMD without a LatencyThreshold, a
// gradient before its first answer) it is no sample: 20 % of Internal after three times the
// service's latency now take the limit to 20-30 of 100, where they left it at the ceiling
// (TestSlowServerFaultsLowerTheLimit). Only a success is an answer, whose latency counts. A
// service whose server faults always mean overload can say so with a classifier that calls
// them throttled (always drops).
//
// A call of the interceptors (or a suite's chain) whose caller's deadline passed while it held
// its slot is judged so too, even if the server answered throttled: one that held the slot less
// than a healthy answer takes is no sample, as the caller's deadline was too short for the
// method, or spent waiting in this bulkhead's queue, which says nothing about the service. Each
// such timeout backed the limit off: 30 callers with a 5 ms deadline on a method answering in
// 20 ms took it to MinLimit for every caller sharing the bulkhead, and a queue that ate the
// deadlines lowered the limit, which lengthened the queue. Unary measures from the slot taken
// to the invoker's return, Stream from the slot taken to the end of the stream; a panicking
// call (or stream) is no sample. Callers of Acquire give a sample with ReleaseWith, whose
// latency is the one judged; a plain Release gives none.
//
// A call that started before the limit last changed is no sample either: it measured the
// limit before the change. Without this rule every call queued behind a limit that was too
// high would back it off once more, and every quick call started under a lower limit would
// push it up once more, and the limit would swing between the floor and several times the
// right value. With it the limit moves about once per call duration. A sign of overload (a
// drop, or an AIMD answer slower than LatencyThreshold) is no sample only if its call started
// before the limit last fell: a rise since does not answer it. Quick calls (a cheap method
// sharing the bulkhead with a slow one) that raised the limit every millisecond voided every
// overload failure of the slow calls, each started before the last rise, and the limit climbed
// to the ceiling over a service shedding them.
//
// When the limit falls below the calls in flight, no call is interrupted: new calls wait or are
// rejected until the calls in flight are fewer than the limit. When it rises, waiters are
// admitted at once, oldest first. Waiters are FIFO as with a fixed limit, and a newcomer never
// takes a slot while someone waits for one.
//
// # AIMD
//
// Additive increase, multiplicative decrease. A drop, or an answer slower than
// LatencyThreshold when set, multiplies the limit by BackoffRatio (default 0.9), rounded down,
// never below MinLimit. Any other answer adds one to the limit, up to the ceiling, if the
// limit was in use: at least half of it in flight when the call ended, the call included.
// Without a LatencyThreshold, AIMD only sees overload when calls fail, typically when they
// pass their deadline, and every transient failure is a drop, however fast: it is loss-based,
// and like TCP Reno it settles low under random faults that are no overload (with a 100-slot
// ceiling, unlimited demand and 20-25 ms answers, near 15 with 5 % of fast Unavailable, near 8
// with 20 %, near 5 with 30 %). With one, it keeps latency near the threshold, and a transient
// failure faster than the threshold is no sample. For a service with random transient faults,
// use the gradient (the built-in ml profile does) or give AIMD a LatencyThreshold.
//
// # Gradient
//
// A Vegas-like estimate of the queue from latency alone. The algorithm keeps two exponential
// averages of the answers' latencies: the short-term one over the last 10 samples, and the
// baseline, the latency of the service without a queue of ours, over LongWindow samples
// (default 600). The gradient is Tolerance·baseline/short (Tolerance default 1.5), clamped to
// [0.5, 1]: 1 while latency is within tolerance of the baseline, less as a queue builds. The
// new estimate is limit·gradient, plus sqrt(limit), room for a small queue, when the gradient
// is 1; the limit moves towards it by Smoothing (default 0.2): limit·(1−Smoothing) +
// estimate·Smoothing, within [MinLimit, ceiling]. The limit never grows when it was not in use
// (less than half of it in flight). A drop (a throttled failure, or a transient one that took
// at least Tolerance times the baseline) multiplies the limit by BackoffRatio, as AIMD does:
// the latency of a call that timed out or was shed is the caller's deadline or the time to be
// refused, not the service's. A transient failure faster than that is no sample.
//
// A sample counts at most Tolerance/0.5 times the baseline, the latency at which the gradient
// reaches its least: a longer one says no more about a queue. Without that cap one outlier (a
// request held for a second by a stalled replica, among 20 ms answers) lifted the short-term
// average ten-fold, and with it the next few samples halved the limit, so that calls waited
// for slots behind the requests a spike held: one spike in a thousand calls, not a queue. With
// it a single sample from a short-term average at the baseline never shrinks the limit (for a
// Tolerance of 1.3 and up), a run of them does, and a queue that lasts gets the full response
// as before.
//
// The baseline learns quickly (at the short-term rate) from samples below it, slowly (over
// LongWindow) from calls that found the limit not in use (no queue of ours), and not at all
// from queued calls: an average that followed them would follow the queue it is meant to
// detect, and the limit would creep up to the ceiling. It is also pulled down by 5 % per sample
// while the short-term latency is under half of it, so that it follows a recovery. A service
// that gets slower for good (more than Tolerance times the baseline at any concurrency) drives
// the limit to MinLimit; there the baseline learns upwards at the short-term rate, since our
// own queue is as short as it can be, and the limit grows again once the new latency is within
// tolerance.
//
// The baseline is only as good as the first samples: a bulkhead whose very first calls all
// queue (a service already saturated by other clients) takes that queued latency for the
// baseline, and settles higher. Calls that start one after another see the service's own
// latency first, as in the tests and benchmarks.
//
// In a closed-loop simulation of a service whose latency is base·max(1, inflight/knee), both
// algorithms settle near 1.5 times the knee (AIMD with LatencyThreshold 1.5·base) from any
// initial limit (see adaptive_test.go), and benchmarks/results/adaptive.md compares them over
// gRPC with a fixed limit and no bulkhead.
//
// # Hot path
//
// Acquire and Release on a free slot allocate nothing, with a fixed or an adaptive limit, and
// neither does ReleaseWith for a nil error or a status without details, LimitChanged events
// included (see bench_test.go and TestAdaptiveAllocs). The fixed limit's path is unchanged: the
// adaptive mode costs it one nil check.
package bulkhead
