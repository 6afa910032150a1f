package tlsflags_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Regression: IsRefusal read only the refusal's outline ("remote error: tls: ", then " (write
// ...)"), looser than the orchestrator's own check of the same shape, so a server's message in
// that outline, with its own words (a name, a document number) for the alert or the write,
// passed for the -tls connections' refused certificate, and IsCertificateFailure tagged it
// TLS_CERTIFICATE. Both parts must be crypto/tls's alert and the transport's write error, whole.
func TestIsRefusalReadsOnlyCryptoTLSAndTransportWords(t *testing.T) {
	for msg, want := range map[string]bool{
		"remote error: tls: certificate required (write tcp 127.0.0.1:34694->127.0.0.1:46241: write: broken pipe)":  true,
		"remote error: tls: bad certificate (write tcp6 [::1]:40000->[::1]:50051: write: connection reset by peer)": true,
		"remote error: tls: unknown certificate authority (write unix ->/run/ocr.sock: write: broken pipe)":         true,
		// A server's own words where the write or the alert stands.
		"remote error: tls: certificate required (write SPECIMEN ALEX A12345678)":                                         false,
		"remote error: tls: certificate required (write tcp 127.0.0.1:1->127.0.0.1:2: write: no record of SPECIMEN ALEX)": false,
		"remote error: tls: certificate required (write tcp registry.example->SPECIMEN-ALEX:443: write: broken pipe)":     false,
		"remote error: tls: SPECIMEN ALEX (write tcp 127.0.0.1:34694->127.0.0.1:46241: write: broken pipe)":               false,
		"remote error: tls: bad certificate (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe) for SPECIMEN ALEX)":  false,
		"remote error: tls: certificate required (read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer)":     false,
		"remote error: tls: certificate required":                                                                         false,
		"backend: remote error: tls: certificate required (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe)":       false,
	} {
		if got := tlsflags.IsRefusal(msg); got != want {
			t.Errorf("IsRefusal(%q) = %v, want %v", msg, got, want)
		}
		if got := tlsflags.IsCertificateFailure(status.Error(grpccodes.Unavailable, msg)); got != want {
			t.Errorf("IsCertificateFailure(Unavailable %q) = %v, want %v", msg, got, want)
		}
	}
}
