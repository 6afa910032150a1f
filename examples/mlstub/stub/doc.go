// Package stub runs fake liveness, face-match and OCR services (kyc.v1) with fault injection,
// for the orchestrator example and for end-to-end tests of bulwark's interceptors.
//
// # Serving
//
// Start serves the services chosen in Config.Services on one gRPC listener, with the standard
// health service (each service's full name, and "", is SERVING; NOT_SERVING during an outage)
// and server reflection. Several stubs can run in one process: each has its own Prometheus
// registry.
//
// # Fake inference
//
// Answers are deterministic: the same bytes give the same answer. Build inputs with Selfie,
// DocumentImage, ExpiredDocumentImage and Frames; the stub recognises the tags these write.
//
//	| call                   | input                                  | answer                                   |
//	| ---------------------- | -------------------------------------- | ---------------------------------------- |
//	| Liveness.Check         | Frames(seed, n, true)                  | LIVE, frames_analyzed n                  |
//	| Liveness.Check         | Frames(seed, n, false)                 | SPOOF                                    |
//	| Liveness.Check         | a frame with no face (Selfie(s,false)) | InvalidArgument, FACE_NOT_DETECTED       |
//	| Liveness.Check         | no frame                               | InvalidArgument, NO_FRAMES               |
//	| FaceMatch.Compare      | Selfie(a, true), DocumentImage(a, ...) | MATCH                                    |
//	| FaceMatch.Compare      | Selfie(a, true), DocumentImage(b, ...) | NO_MATCH (a ≠ b)                         |
//	| FaceMatch.Compare      | Selfie(a, false) or unreadable doc     | InvalidArgument, FACE_NOT_DETECTED       |
//	| OCR.Extract            | DocumentImage(a, false)                | fields, expiry in 5 to 10 years          |
//	| OCR.Extract            | ExpiredDocumentImage(a)                | expiry date before 2020                  |
//	| OCR.Extract            | DocumentImage(a, true) or empty bytes  | InvalidArgument, DOCUMENT_UNREADABLE     |
//
// Business errors carry a google.rpc.ErrorInfo whose reason is one of the Reason constants and
// whose domain is DomainOCR, DomainFaceMatch or DomainLiveness. Unmarked bytes are read as an
// ordinary readable image with a face, scored by their hash.
//
// # Faults
//
// Each request (a whole Liveness stream counts as one) goes through, in order:
//
//  1. the outage check: during an outage (Config.Outage, Down, OutageFor) it fails at once with
//     Unavailable (OutageRefused counts these apart from injected failures);
//  2. a wait: Faults.Latency, plus Faults.Spike with probability Faults.SpikeRate, plus the
//     scripted MDDelay; the wait ends early when the caller cancels;
//  3. scripted failures (MDFailFirst with MDRequestID);
//  4. random failures by code (Faults.Fail); an injected ResourceExhausted carries a
//     google.rpc.RetryInfo of Faults.Pushback when that is positive.
//
// Random draws come from one generator seeded with Config.Seed, two per request past the
// outage check (a request an outage refuses draws none), so a given seed, order of requests
// and outage timing always give the same faults.
//
// # Metrics and admin endpoint
//
// The only metric is mlstub_requests_total{method, code}: method is the full gRPC method name
// (MethodCheck, MethodCompare, MethodExtract) and code is grpc's codes.Code.String() form ("OK",
// "Unavailable", "ResourceExhausted", "Canceled"). Requests reads the same count. For requests
// that carry MDRequestID, Attempts counts the attempts of each id and Spiked those that waited
// out a latency spike in full (not cancelled by their caller during it). Logs carry
// method, code and latency only: never images nor document fields.
//
// AdminHandler, served on Config.MetricsListen, exposes /metrics and changes faults and
// outages at run time; see its documentation for the endpoints.
package stub
