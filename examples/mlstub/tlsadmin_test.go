package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
)

// TestTLSFlagsCoverTheAdminEndpoint: with the -tls-* flags the -metrics address (metrics and
// the admin endpoints that change the faults) serves HTTPS with the same certificate and, with
// -tls-ca, requires a client certificate, as the gRPC address does: no plaintext way in.
func TestTLSFlagsCoverTheAdminEndpoint(t *testing.T) {
	f := tlstest.Write(t)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *stub.Stub, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-metrics", "127.0.0.1:0",
			"-tls-cert", f.ServerCert, "-tls-key", f.ServerKey, "-tls-ca", f.CA},
			io.Discard, func(s *stub.Stub) { started <- s })
	}()
	var s *stub.Stub
	select {
	case s = <-started:
	case err := <-errc:
		t.Fatalf("run: %v", err)
	}
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	pool := f.CAPool(t)
	clientCert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	get := func(scheme string, cfg *tls.Config) (int, string, error) {
		tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, scheme+"://"+s.MetricsAddr()+"/outage", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	code, body, err := get("https", &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12})
	if err != nil || code != http.StatusOK || !strings.Contains(body, `"down":false`) {
		t.Errorf("HTTPS with a client certificate: %d %v, want 200 with the outage state", code, err)
	}
	if code, body, err := get("http", nil); err == nil && code == http.StatusOK {
		t.Errorf("plaintext HTTP: %d %.60q, want refused", code, body)
	}
	if code, _, err := get("https", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}); err == nil {
		t.Errorf("HTTPS without a client certificate: %d, want refused", code)
	}
}
