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
//	| (from another CA, or not for the name dialled)     | (x509: certificate signed by unknown authority / certificate is valid for A, not B) |    |
//	| the server refuses the client's certificate        | remote error: tls: certificate required / bad certificate / expired certificate | server_fault |
//	| (a TLS 1.2 server not Go's, when none was sent)    | (authentication handshake failed: remote error: tls: handshake failure) |   |
//	| no TLS version both sides speak                    | authentication handshake failed: remote error: tls: protocol version not supported | server_fault |
//	| (the server's alert; or a server, not Go's, that   | (or: authentication handshake failed: tls: server selected unsupported protocol version 302) |    |
//	| answers with a version the client did not offer)   |                                                              |              |
//	| TLS client, plaintext server                       | tls: first record does not look like a TLS handshake         | transient    |
//	| plaintext client, TLS server                       | error reading server preface: EOF (or: connection reset by peer) | transient |
//
// Any other failed handshake is transient, as a connection loss is: a server restarting, a proxy
// reloading its certificates. A certificate that is refused is not going to be accepted by
// the next attempt, nor will a client and a server that share no TLS version find one on the
// next; retrying either only multiplies load and delays the error. bulwark's classifier goes
// by code and ErrorInfo reason, never by message, so MarkCertificateErrors (installed inside
// the suite) tags each attempt refused over a certificate with the reason TLS_CERTIFICATE
// (ReasonCertificate), and each that found no TLS version in common with TLS_VERSION
// (ReasonVersion): two reasons, as an operator fixes the one with a certificate and the other
// with a TLS setting. The orchestrator classes both server_fault where its configuration
// gives them no class: not retried, and a failure for the breaker, so a certificate that
// stays bad, or a server still limited to TLS 1.1,
// opens the breaker and fires the BulwarkBreakerOpen alert, which is what an operator needs to
// hear. A version mismatch is recognised by crypto/tls's words alone, whole in grpc-go's
// message for a connection it could not make (IsVersionMismatch): a server's own text cannot
// pass for one.
//
// Under TLS 1.3 the server checks the client's certificate after the client's side of the
// handshake is over, then sends its alert and closes the connection; grpc-go reports either
// its reader's error (the alert) or its writer's, a bare "write: broken pipe" or "connection
// reset by peer", whichever comes first. ClientCredentials' connections settle that race: a
// write that fails on a reset connection reads what the server sent last, and when it is the
// alert, the write's error begins with it ("remote error: tls: certificate required (write tcp
// ...: broken pipe)"), which IsCertificateFailure recognises too. A server that closes without
// an alert still reads as a connection loss, transient: retried up to max_attempts within the
// budget, and after the breaker's consecutive failures the breaker opens, so a bad certificate
// is never retried without bound.
package tlsflags
