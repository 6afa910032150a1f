// Package deadline bounds how long a gRPC call may take: it sets a default deadline on calls
// that arrive without one, and caps deadlines that are too far away. It only ever shortens: a
// caller's deadline that is within the cap is passed on untouched, so the remaining budget of
// an upstream request propagates and is never extended.
//
// # Rules
//
//	| the call's context        | Config          | result                         | event reason |
//	|---------------------------|-----------------|--------------------------------|--------------|
//	| no deadline               | Default > 0     | deadline now+Default           | default      |
//	| no deadline               | Default 0, Max  | deadline now+Max               | cap          |
//	| deadline ≤ now+Max        | any             | unchanged                      | —            |
//	| any deadline              | Max 0           | unchanged                      | —            |
//	| deadline > now+Max        | Max > 0         | deadline now+Max               | cap          |
//	| any                       | both 0          | unchanged                      | —            |
//
// Each change emits an observe.DeadlineApplied event (Delay: the timeout set; Reason:
// ReasonDefault or ReasonCap; in a bulwark suite, ReasonBudget when the call budget, shorter
// than the section's setting or the only one, set it). Deadlines are
// set with clock.WithDeadline on the injected clock (WithClock), so tests run on a fake clock.
//
// # Use
//
// Policy.Context applies the policy to any context (no gRPC needed); Policy.Unary and
// Policy.Stream are the client interceptors, and UnaryClientInterceptor(cfg, opts...) and
// StreamClientInterceptor build a Policy and return them (or the error of New). An Option
// (WithClock, WithObserver) is given to New and is not a grpc.CallOption; there are no
// per-call options. Put the deadline policy outside the retry
// policy, so that the deadline bounds all attempts and sleeps together. A Policy is immutable
// and safe for concurrent use. When it changes nothing, it allocates nothing.
package deadline
