package tlsflags_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCertificateFailureIsAQuotedConnectionError: grpc-go's ConnectionError is always
// `connection error: desc = %q`. A server's own Unavailable that only begins "connection
// error: " and speaks of a certificate in other words (its backend's x509 failure) was taken
// for the client's handshake failing, tagged TLS_CERTIFICATE, and so never retried.
func TestCertificateFailureIsAQuotedConnectionError(t *testing.T) {
	const desc = `desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`
	for msg, want := range map[string]bool{
		"connection error: " + desc:                                    true,
		"last connection error: connection error: " + desc:             true,
		"connection error: backend said x509: certificate has expired": false,
		"connection error: desc = 0\"transport: authentication handshake failed: remote error: tls: bad certificate\"": false,
		"last connection error: connection error: " + desc + " for SPECIMEN-ALEX":                                      false,
		"connection error: " + desc[:len(desc)-1]:                                                                      false,
	} {
		if got := tlsflags.IsCertificateFailure(status.Error(grpccodes.Unavailable, msg)); got != want {
			t.Errorf("IsCertificateFailure(Unavailable %q) = %v, want %v", msg, got, want)
		}
	}
}
