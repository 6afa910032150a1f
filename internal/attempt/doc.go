// Package attempt holds what the retry and hedge policies share about the attempts of one
// call: what a policy knows of a method and whether a call may be repeated at all, the
// per-call settings a caller may change, the replay buffer of a client stream, the metadata
// each attempt carries, the one way an attempt's deadline is built, and the counting of
// attempts across a retry loop and the hedges inside it.
//
// # Eligibility
//
// A call may be retried or hedged when the method's descriptor says NO_SIDE_EFFECTS or
// IDEMPOTENT, or the policy's configuration says its methods are idempotent, unless one call
// says otherwise (Eligible).
//
// # Metadata
//
// Every attempt after the first carries gRFC A6's grpc-previous-rpc-attempts (PreviousKey):
// the number of attempts of the call sent before it, retries and hedges alike. The first
// attempt carries nothing. Retries also carry the older x-retry-attempt (LegacyRetryKey, the
// retry's own number, 2 for the first retry) for one release; it is deprecated.
//
// # Counting
//
// Each attempt sent is reported once, as one AttemptFinished event whose Attempt numbers the
// attempts of the call over retries and hedges (1, 2, ...). A retry loop passes a *Round
// among the call options of each of its attempts. A hedging policy below it finds the Round,
// numbers its attempts from Round.Prev, reports every one of them (its first included) and
// counts them in the Round; the retry loop then reports none of that round's attempts and
// numbers the next round after them. Without a hedging policy below (or when it does not
// hedge the call) the retry loop reports its attempt itself. A hedging policy with no Round
// reports all of its attempts, numbered from 1.
//
// Every other number and count of attempts follows the same rule, so that all of them speak of
// requests sent: the retry loop's RetryScheduled names the attempt whose failure the round
// returned (Round.Decide: the hedging policy tells which), its RetriesExhausted and its Info
// count every request of the call, hedges included, and the suite's CallFinished does too. The
// Round also carries the call's start (Round.Start), from which the hedging policy measures
// the whole call (HedgeWon's Duration), its earlier rounds and backoff sleeps included.
package attempt
