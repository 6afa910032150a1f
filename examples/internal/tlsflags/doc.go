// Package tlsflags gives the example commands (orchestrator, mlstub) their -tls-cert, -tls-key
// and -tls-ca flags: server options, client credentials, and the classification of TLS
// failures. Subpackage tlstest writes throwaway certificates for tests.
//
// # Modes
//
//	| flags                        | server                                   | client                                      |
//	| ---------------------------- | ---------------------------------------- | ------------------------------------------- |
//	| none                         | plaintext                                | plaintext                                   |
//	| -tls-cert -tls-key           | TLS; plaintext clients refused           | TLS, server verified by the system roots, certificate presented |
//	| -tls-ca                      | error: a server needs a certificate      | TLS, server verified by the CA              |
//	| -tls-cert -tls-key -tls-ca   | mutual TLS: client certificates required and verified by the CA | mutual TLS |
//
// # How TLS failures are classed
//
// grpc-go reports every failed TLS handshake as Unavailable; only the message says what
// happened (TestHandshakeFailures pins each case):
//
//	| what went wrong                                    | grpc-go's message contains                                   | class        |
//	| -------------------------------------------------- | ------------------------------------------------------------ | ------------ |
//	| the client does not trust the server's certificate | authentication handshake failed: tls: failed to verify certificate: x509: ... | server_fault |
//	| the server refuses the client's certificate        | remote error: tls: certificate required / bad certificate    | server_fault |
//	|   (same, when the connection closes first)         | write: broken pipe, error reading server preface: EOF        | transient    |
//	| TLS client, plaintext server                       | tls: first record does not look like a TLS handshake         | transient    |
//	| plaintext client, TLS server                       | error reading server preface: EOF                            | transient    |
//
// A handshake failure is transient, as a connection loss is: a server restarting, a proxy
// reloading its certificates. A certificate that is refused is not going to be accepted by
// the next attempt; retrying it only multiplies load and delays the error. bulwark's
// classifier goes by code and ErrorInfo reason, never by message, so MarkCertificateErrors
// (installed inside the suite) tags each attempt refused over a certificate with the reason
// TLS_CERTIFICATE, and the orchestrator classes that reason server_fault: not retried, and a
// failure for the breaker, so a certificate that stays bad opens the breaker and fires the
// BulwarkBreakerOpen alert, which is what an operator needs to hear.
//
// Under TLS 1.3 the server checks the client's certificate after the client's side of the
// handshake is over; the client then reads the server's alert or, if the server closed the
// connection first, a bare broken pipe or EOF. The second looks like any connection loss and is
// classed transient: it is retried up to max_attempts within the budget, and after the
// breaker's consecutive failures the breaker opens. Either way a bad certificate is never
// retried without bound.
package tlsflags
