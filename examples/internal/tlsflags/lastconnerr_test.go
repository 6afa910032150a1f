package tlsflags_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestBaseBalancerConnectionErrorIsACertificateFailure: a balancer built on grpc-go's
// balancer/base (a custom one, or an older round_robin) gives a refused handshake as
// mergeErrors words it, fmt.Errorf("last connection error: %v") of the transport's
// ConnectionError, with "; last resolver error: %v" when the resolver failed too. Only
// pick_first's and round_robin's bare `connection error: desc = ...` was recognised: the
// same refused certificate was taken for a transient failure and retried. The resolver's
// part is not searched: it is not the handshake's.
func TestBaseBalancerConnectionErrorIsACertificateFailure(t *testing.T) {
	const conn = `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`
	for msg, want := range map[string]bool{
		"last connection error: " + conn: true,
		"last connection error: " + conn + "; last resolver error: produced zero addresses":                                                                                                 true,
		`last connection error: connection error: desc = "error reading server preface: remote error: tls: expired certificate"`:                                                            true,
		`last connection error: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`:                                               false,
		`last connection error: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"; last resolver error: x509: unknown authority`: false,
		"last resolver error: x509: certificate signed by unknown authority":                                                                                                                false,
	} {
		if got := tlsflags.IsCertificateFailure(status.Error(grpccodes.Unavailable, msg)); got != want {
			t.Errorf("IsCertificateFailure(Unavailable %q) = %v, want %v", msg, got, want)
		}
	}
}
