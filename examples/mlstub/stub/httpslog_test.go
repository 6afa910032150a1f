package stub

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestHTTPSHandshakeErrorGoesToTheStubsLogger: a client that fails the TLS handshake of the
// HTTPS endpoint (plaintext HTTP to it) is logged by the stub's logger, as a warning, and not
// by Go's standard logger. http.Server had no ErrorLog: net/http wrote "http: TLS handshake
// error from ..." to the standard logger, on stderr, outside the stub's log and its format.
func TestHTTPSHandshakeErrorGoesToTheStubsLogger(t *testing.T) {
	var std bytes.Buffer
	prev := log.Writer()
	log.SetOutput(&std)
	defer log.SetOutput(prev)

	f := tlstest.Write(t)
	cfg, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", StopTimeout: time.Second},
		WithLogger(zap.New(core)), WithMetricsListener(tls.NewListener(lis, cfg)))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.MetricsAddr()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plaintext HTTP to HTTPS: %d, want 400", resp.StatusCode)
		}
	}
	cancel()
	tr.CloseIdleConnections()
	// Stop waits for the HTTP server's connections to end, and net/http logs a failed
	// handshake before it ends the connection: the line, if any, is written by now.
	s.Stop()

	got := logs.FilterMessageSnippet("TLS handshake error").All()
	if len(got) != 1 || got[0].Level != zapcore.WarnLevel ||
		!strings.Contains(got[0].Message, "client sent an HTTP request to an HTTPS server") {
		t.Errorf("stub's log has %+v, want one warning of the TLS handshake error", got)
	}
	if std.Len() != 0 {
		t.Errorf("Go's standard logger wrote %q, want nothing", std.String())
	}
}
