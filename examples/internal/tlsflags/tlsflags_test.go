package tlsflags_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts a health server with opts on a loopback port.
func serve(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func check(t *testing.T, addr string, opts ...grpc.DialOption) error {
	t.Helper()
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// The statuses grpc-go gives when TLS goes wrong, all Unavailable, and which of them
// IsCertificateFailure and IsVersionMismatch recognise.
func TestHandshakeFailures(t *testing.T) {
	f := tlstest.Write(t)
	sopts, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey, CA: f.CA}.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	mtls, plain := serve(t, sopts...), serve(t)
	scfg, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	tls13, tls11 := scfg.Clone(), scfg.Clone()
	tls13.MinVersion = tls.VersionTLS13
	tls11.MinVersion, tls11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	only13, upTo11 := serve(t, grpc.Creds(credentials.NewTLS(tls13))), serve(t, grpc.Creds(credentials.NewTLS(tls11)))
	pool := f.CAPool(t)
	for _, tc := range []struct {
		name      string
		flags     tlsflags.Flags
		creds     credentials.TransportCredentials // instead of the flags' when set
		authority string                           // the server name the client expects, when set
		addr      string
		// wantCert: true, false, or nil when grpc-go's answer races (see below).
		wantCert    *bool
		wantVersion bool
		wantMsg     string
	}{
		{name: "mutual TLS", flags: tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}, addr: mtls},
		// The client does not trust the server: grpc-go fails the handshake on the client
		// side, with the x509 error in the message, every time.
		{name: "untrusted server", flags: tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.RogueCA}, addr: mtls,
			wantCert: ptr(true), wantMsg: "authentication handshake failed: tls: failed to verify certificate: x509"},
		// The server refuses the client's certificate (none, or one from another CA, which
		// the client does not send as the server names the CAs it accepts). Under TLS 1.3 the
		// client's side of the handshake is over before the server checks it, and grpc-go
		// reports either its reader's error, the server's alert, or its writer's, a
		// connection the server closed ("broken pipe"): a race, which the client's connection
		// settles by finding the alert for the writer's error too (repeated to meet both).
		{name: "no client certificate", flags: tlsflags.Flags{CA: f.CA}, addr: mtls,
			wantCert: ptr(true), wantMsg: "remote error: tls: certificate required"},
		{name: "client certificate from another CA", flags: tlsflags.Flags{Cert: f.RogueCert, Key: f.RogueKey, CA: f.CA}, addr: mtls,
			wantCert: ptr(true), wantMsg: "remote error: tls: certificate required"},
		// A Go server refuses an expired client certificate with its own alert, whose text
		// crypto/tls words "expired certificate".
		{name: "expired client certificate", flags: tlsflags.Flags{Cert: f.ExpiredCert, Key: f.ExpiredKey, CA: f.CA}, addr: mtls,
			wantCert: ptr(true), wantMsg: "remote error: tls: expired certificate"},
		// The server's certificate is not for the name the client dialled.
		{name: "wrong server name", flags: tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}, authority: "ocr.example", addr: mtls,
			wantCert: ptr(true), wantMsg: "tls: failed to verify certificate: x509: certificate is valid for localhost, not ocr.example"},
		// No TLS version both sides speak: the server refuses the client's hello, whether
		// the client stops at TLS 1.2 and the server starts at 1.3, or the server (not one
		// of these flags', which start at 1.2) stops at 1.1.
		{name: "TLS 1.2 client, TLS 1.3 server", creds: credentials.NewTLS(&tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}), addr: only13,
			wantCert: ptr(false), wantVersion: true, wantMsg: "authentication handshake failed: remote error: tls: protocol version not supported"},
		{name: "TLS 1.1 server", flags: tlsflags.Flags{CA: f.CA}, addr: upTo11,
			wantCert: ptr(false), wantVersion: true, wantMsg: "authentication handshake failed: remote error: tls: protocol version not supported"},
		// Plaintext to a TLS server is refused: the server closes the connection ("EOF", or
		// a reset if it closed before reading all the client sent).
		{name: "plaintext client", flags: tlsflags.Flags{}, addr: mtls, wantCert: ptr(false), wantMsg: "error reading server preface: "},
		// TLS to a plaintext server: a handshake failure that is not about a certificate.
		{name: "plaintext server", flags: tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}, addr: plain,
			wantCert: ptr(false), wantMsg: "tls: first record does not look like a TLS handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := tc.flags.ClientCredentials()
			if err != nil {
				t.Fatal(err)
			}
			if tc.creds != nil {
				creds = tc.creds
			}
			opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
			if tc.authority != "" {
				opts = append(opts, grpc.WithAuthority(tc.authority))
			}
			for range 20 { // a new connection each time: grpc-go's reader and writer race
				err = check(t, tc.addr, opts...)
				if tc.name == "mutual TLS" {
					if err != nil {
						t.Fatalf("Check over mutual TLS: %v", err)
					}
					return
				}
				st, _ := status.FromError(err)
				if st.Code() != grpccodes.Unavailable {
					t.Fatalf("got %v %q, want Unavailable", st.Code(), st.Message())
				}
				if !strings.Contains(st.Message(), tc.wantMsg) {
					t.Fatalf("message %q, want it to contain %q", st.Message(), tc.wantMsg)
				}
				if tc.wantCert != nil && tlsflags.IsCertificateFailure(err) != *tc.wantCert {
					t.Fatalf("IsCertificateFailure(%q) = %v, want %v", st.Message(), !*tc.wantCert, *tc.wantCert)
				}
				if got := tlsflags.IsVersionMismatch(err); got != tc.wantVersion {
					t.Fatalf("IsVersionMismatch(%q) = %v, want %v", st.Message(), got, tc.wantVersion)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestFlagErrors(t *testing.T) {
	f := tlstest.Write(t)
	for _, tc := range []struct {
		flags tlsflags.Flags
		want  string
	}{
		{tlsflags.Flags{Cert: f.ServerCert}, "-tls-cert and -tls-key go together"},
		{tlsflags.Flags{Cert: f.ServerCert, Key: "/nonexistent"}, "-tls-key"},
		{tlsflags.Flags{CA: f.ServerKey}, "no PEM certificate"},
	} {
		_, err := tc.flags.ClientCredentials()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.flags, err, tc.want)
		}
	}
	// A key pair that does not load names both files: which of the flags' values is wrong is
	// not in crypto/tls's words ("private key does not match public key").
	for _, fl := range []tlsflags.Flags{{Cert: f.ServerCert, Key: f.ClientKey}, {Cert: f.ServerCert, Key: f.ServerCert}} {
		_, err := fl.ClientCredentials()
		if err == nil || !strings.Contains(err.Error(), "-tls-cert "+fl.Cert) || !strings.Contains(err.Error(), "-tls-key "+fl.Key) {
			t.Errorf("%+v: %v, want an error naming -tls-cert %s and -tls-key %s", fl, err, fl.Cert, fl.Key)
		}
	}
	if _, err := (tlsflags.Flags{CA: f.CA}).ServerOptions(); err == nil {
		t.Error("a server with -tls-ca alone: no error")
	}
}

// Regression: a server's own Unavailable whose message names a certificate (its backend's)
// was taken for the client's handshake failing, and so, under the orchestrator's rule, not
// retried.
func TestServersCertificateMessageIsNotAHandshakeFailure(t *testing.T) {
	for msg, want := range map[string]bool{
		"backend unavailable: x509: certificate has expired or is not yet valid": false,
		"tls: bad certificate from the upstream":                                 false,
		`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`: true,
		"remote error: tls: certificate required (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe)":                                                        true,
		"remote error: tls: handshake failure (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe)":                                                           false,
		"backend: remote error: tls: bad certificate": false,
		// A Go server passing on its own dial's error as is: its backend refused its
		// certificate, not this client's.
		"remote error: tls: bad certificate":                                  false,
		"remote error: tls: certificate required (the upstream refused ours)": false,
	} {
		if got := tlsflags.IsCertificateFailure(status.Error(grpccodes.Unavailable, msg)); got != want {
			t.Errorf("IsCertificateFailure(Unavailable %q) = %v, want %v", msg, got, want)
		}
	}
}

// The certificate alerts as crypto/tls words them (its alert texts: "expired certificate",
// "revoked certificate"), in both shapes grpc-go gives a refused handshake, are certificate
// failures. The list had "certificate expired" and "certificate revoked", which no alert
// reads: an expired client certificate, which a Go server refuses with its own alert, was
// taken for a transient failure and retried.
func TestCertificateAlertsAreCertificateFailures(t *testing.T) {
	for _, alert := range []string{"bad certificate", "unsupported certificate", "revoked certificate", "expired certificate",
		"unknown certificate", "unknown certificate authority", "certificate required"} {
		for _, msg := range []string{
			`connection error: desc = "error reading server preface: remote error: tls: ` + alert + `"`,
			"remote error: tls: " + alert + " (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe)",
		} {
			if !tlsflags.IsCertificateFailure(status.Error(grpccodes.Unavailable, msg)) {
				t.Errorf("IsCertificateFailure(Unavailable %q) = false, want true", msg)
			}
		}
	}
}

// A version mismatch is recognised by crypto/tls's words alone, in grpc-go's shapes for a
// connection it could not make: the server's protocol_version alert, or the client's refusal
// of a version it did not offer. A server's own text that speaks of TLS versions, or wraps
// those words in its own, is not a version mismatch, and neither is a certificate failure.
func TestVersionMismatchReadsOnlyCryptoTLSWords(t *testing.T) {
	const alert = `connection error: desc = "transport: authentication handshake failed: remote error: tls: protocol version not supported"`
	for msg, want := range map[string]bool{
		alert:                             true,
		"last connection error: " + alert: true,
		"last connection error: " + alert + "; last resolver error: produced zero addresses":                                           true,
		`connection error: desc = "transport: authentication handshake failed: tls: server selected unsupported protocol version 302"`: true,
		// A server's own words.
		"remote error: tls: protocol version not supported": false,
		"tls: protocol version not supported":               false,
		"backend: " + alert:                                 false,
		alert + " for SPECIMEN ALEX":                        false,
		`connection error: desc = "transport: authentication handshake failed: remote error: tls: protocol version not supported by SPECIMEN"`: false,
		`connection error: desc = "transport: authentication handshake failed: tls: server selected unsupported protocol version 302 (ALEX)"`:  false,
		`connection error: desc = "transport: authentication handshake failed: tls: server selected unsupported protocol version ALEX"`:        false,
		`connection error: desc = "transport: authentication handshake failed: remote error: tls: protocol version not supported` + "\n" + `"`: false,
		"last resolver error: " + alert: false,
		// Not a version mismatch: another handshake failure, or a certificate's.
		`connection error: desc = "transport: authentication handshake failed: remote error: tls: handshake failure"`:                                             false,
		`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`: false,
		"remote error: tls: protocol version not supported (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe)":                                              false,
	} {
		if got := tlsflags.IsVersionMismatch(status.Error(grpccodes.Unavailable, msg)); got != want {
			t.Errorf("IsVersionMismatch(Unavailable %q) = %v, want %v", msg, got, want)
		}
	}
	for _, err := range []error{nil, status.Error(grpccodes.Internal, alert), status.Error(grpccodes.OK, "")} {
		if tlsflags.IsVersionMismatch(err) {
			t.Errorf("IsVersionMismatch(%v) = true, want false", err)
		}
	}
}
