// Package kyc is the logic of the KYC orchestrator example: one verification across the
// liveness, face-match and OCR services (Verifier), generated batches of applicants (Batch),
// and the summary of a batch (Summary, with Counters fed from bulwark's event stream).
//
// The Verifier knows nothing of resilience: its connections carry the bulwark suite's
// interceptors, and it reads what they did through retry.Report (attempts per step) and the
// status they return (a policy's rejection reason, such as CIRCUIT_OPEN).
//
// # Decisions
//
//	| decision | when                                                                  |
//	| -------- | --------------------------------------------------------------------- |
//	| APPROVED | live, faces match, document readable and not expired                  |
//	| REJECTED | any step answered against the applicant (a business answer)           |
//	| FAILED   | no rejection, and some step got no answer (infrastructure, budget)    |
//
// Server serves the Verifier as kyc.v1.KYCService: decided verifications are gRPC OK, an
// undecided one a retryable Unavailable (or DeadlineExceeded) naming the failed steps; Metrics
// count the decisions. Batch runs closed loops (a fixed number of workers) or open loops (a
// fixed arrival rate, RunResult), and SummarizeResult reports both.
//
// Business reasons come from the services' ErrorInfo (DOCUMENT_UNREADABLE, FACE_NOT_DETECTED,
// NO_FRAMES) or from the orchestrator's own rules (SPOOF_DETECTED, FACE_MISMATCH,
// DOCUMENT_EXPIRED, DOCUMENT_EXPIRY_INVALID). A reply a fallback made up (reason FALLBACK) or
// one whose verdict neither passes nor rejects (VERDICT_UNKNOWN) fails its step; a step the
// caller's cancel cut is FAILED, code CANCELLED, reason CALLER_CANCELLED. Logs and summaries
// never carry images or document fields.
package kyc
