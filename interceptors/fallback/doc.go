// Package fallback answers a failed call with a degraded reply instead of its error, so that a
// KYC verification can go on (to manual review, say) when a model service is down.
//
// # When
//
// A Fallback classifies each failed call's error (codes.Default, or WithClassifier) and answers
// in its place when the class is in Config.OnClasses or the code in Config.OnCodes. With both
// empty it answers for every class but business errors and caller cancellations:
//
//	| class        | replaced by default | example                                 |
//	| ------------ | ------------------- | --------------------------------------- |
//	| transient    | yes                 | Unavailable, DeadlineExceeded (*)       |
//	| throttled    | yes                 | ResourceExhausted from the service      |
//	| server_fault | yes                 | Internal, Unknown, DataLoss             |
//	| rejected     | yes                 | breaker open, bulkhead full, rate limit |
//	| business     | no                  | InvalidArgument: unreadable document    |
//	| canceled     | no                  | the caller canceled                     |
//
// (*) DeadlineExceeded is replaced whoever's deadline it was, the caller's own included: a
// caller out of time gets the degraded reply rather than an error.
//
// A call whose caller canceled its context is of the canceled class (code Canceled) whatever
// error reached the fallback: a retry policy cut short in its backoff sleep returns its last
// attempt's error (Unavailable, say), and the call still ended because the caller gave up.
//
// # What
//
// The reply is given in code, as Message (a fixed message) or Func (a function of the context,
// full method, request and error that returns the reply, or nil, also a nil pointer of a
// message type, to let the error stand), or in
// configuration as Config.ReplyJSON, decoded with protojson into the method's response type,
// found from the method's descriptor in the global protobuf registry. A reply given in code
// wins over ReplyJSON. New fails, naming the field (reply_json), its value, the method and the
// type, when the ReplyJSON does not fit the response type or its method is not registered (a
// suite's error names the field's path in its configuration instead), and when a Message is not of the
// method's response type (a Message for a method missing from the registry is checked at call
// time instead), or lacks a proto2 required field (whatever its target). This package never logs or records the request, the reply or the
// error: events carry only the code and class.
//
// A Func runs in the caller's goroutine, with the caller's context (its deadline, not a suite's
// default deadline or budget, which bound the call below the fallback), and is not bounded:
// the call returns when the Func does, so a Func must honour its context (see Func).
//
// The reply is copied into the caller's reply message (proto.Reset, then proto.Merge); a
// Message is copied when Message is called, and the copy is never changed.
//
// # Reply type mismatch
//
// A Func may return a message of another type than the caller's reply (a bug in the Func), and
// so may a Message for a method New could not look up. Such a reply is not served: the call fails with a *ReplyTypeError that names both types and
// wraps ErrReplyType and the original error, so status.Code(err) is the original code and the
// retry and breaker policies see the original failure. No FallbackServed event is emitted.
// Likewise a Func's reply that lacks a proto2 required field, which could not be marshaled, is
// not served: the call fails with an *IncompleteReplyError that names the method, the type and
// the field, and wraps ErrReplyIncomplete and the original error. In both cases the caller's
// reply message is left as it was.
//
// # Scope
//
// A Fallback is built for a full method ("/kyc.v1.OCRService/Extract") or, with a Func reply
// only, for a whole service ("kyc.v1.OCRService"). A full method whose method is "*"
// ("/kyc.v1.OCRService/*") covers every method of the service, with any reply: a Message is then
// checked at call time, and a ReplyJSON has no method to be decoded for. Its interceptors pass every other method
// through untouched, so several Fallbacks, one per method, can be chained on one connection.
//
// # Interceptors and options
//
// Fallback.Unary and Fallback.Stream are the client interceptors. UnaryClientInterceptor(name,
// cfg, reply, opts...) and StreamClientInterceptor build a Fallback of their own and return
// its interceptor, or the error of New: the shape every bulwark policy package shares. An
// Option (WithClock, WithObserver, WithClassifier) is given to New and is not a
// grpc.CallOption; the fallback has no per-call options.
//
// # Streams
//
// For a client-streaming call (liveness Check) whose reply fails with a chosen error, RecvMsg
// (CloseAndRecv) returns the fallback reply; when a send fails with a chosen error (a message
// over the size limit), SendMsg returns io.EOF instead, as gRPC's does for a stream whose
// status RecvMsg returns, and CloseAndRecv the fallback reply. For a server-streaming call
// that fails before its first message, the fallback is the only message, followed by io.EOF,
// also when its request could not be sent (SendMsg then returns nil, as gRPC's does for a
// stream whose status RecvMsg returns); a failure after the first message is returned as is. A
// stream that cannot be opened with a chosen error is replaced by one that discards what is
// sent and answers the fallback as above. Once the fallback answered, or a send failed with
// a chosen error, the stream's Context is the caller's (gRPC's, which it ended with the
// stream, would tell an interceptor above that the stream is over), but for a stream opened on
// a ClientConn, whose Context is then one derived from the caller's that also ends when the
// stream ends and when its ClientConn shuts down. Bidirectional streams pass through. A Func
// sees a nil request for streams.
//
// gRPC ends every stream of a ClientConn that shuts down (ClientConn.Close), and so does the
// fallback a stream it answered or stands in for, which a caller neither reads to its end nor
// cancels: the policies above that watch it (internal/streamend: the suite's observer, a
// tracer) see it end then, abandoned, as gRPC's, and release what they hold for it; the suite
// reports no CallFinished for it, the tracer ends its span with bulwark.abandoned, Canceled. A
// covered stream opened on a ClientConn is watched for that, sharing the wrapper of a policy
// above that watches it for the same context (the suite's). What the stream answers is not
// changed by the shutdown: the fallback reply not read yet, then io.EOF, as gRPC's RecvMsg
// returns the status of a stream that came before the shutdown (only a stream still running
// then returns Canceled, "grpc: the client connection is closing"); a fallback read after the
// shutdown is served, and counted, as any.
//
// # Observability
//
// Each reply served emits observe.FallbackServed with the Code, Class and ErrorInfo reason (such
// as CIRCUIT_OPEN for an open breaker's refusal) of the error replaced, to the policy's observer and to the call's sink (observe.WithCallSink), and counts in Served. A Fallback is safe for concurrent use.
package fallback
