package app

import (
	"testing"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Regression: a status message in the shape of the -tls connections' refused certificate,
// "remote error: tls: <alert> (write <the failed write>)", was kept whatever stood for the
// alert and the write, so a server's own message in that shape reached the logs and the
// summary whole. Both parts must be the words of crypto/tls and of the transport, as grpc
// gives them; anything else is the server's text, of which only the code is shown.
func TestClientDetailLeavesOutAServersTextInTheRefusalShape(t *testing.T) {
	for _, msg := range []string{
		"remote error: tls: certificate required (write SPECIMEN ALEX A12345678)",
		"remote error: tls: SPECIMEN ALEX (write tcp 127.0.0.1:34694->127.0.0.1:46241: write: broken pipe)",
		"remote error: tls: certificate required (write tcp 127.0.0.1:34694->127.0.0.1:46241: write: no record of SPECIMEN ALEX)",
		"remote error: tls: certificate required (write tcp registry.example->SPECIMEN-ALEX:443: write: broken pipe)",
		"remote error: tls: bad certificate (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe) for SPECIMEN ALEX)",
	} {
		if got := clientDetail(status.Error(grpccodes.Unavailable, msg), false); got != "" {
			t.Errorf("server's message %q taken for grpc's: detail %q", msg, got)
		}
	}
	for _, msg := range []string{
		"remote error: tls: certificate required (write tcp 127.0.0.1:34694->127.0.0.1:46241: write: broken pipe)",
		"remote error: tls: bad certificate (write tcp6 [::1]:40000->[::1]:50051: write: connection reset by peer)",
		"remote error: tls: unknown certificate authority (write unix ->/run/ocr.sock: write: broken pipe)",
	} {
		if got := clientDetail(status.Error(grpccodes.Unavailable, msg), false); got != msg {
			t.Errorf("refused certificate %q: detail %q, want grpc's words whole", msg, got)
		}
	}
}
