package tlsflags_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// answerServer accepts connections on a loopback port and answers each client's hello with
// answer, then closes: a fatal TLS 1.2 alert record is how a TLS server not written in Go
// refuses a handshake (the client reads the same words wherever in its handshake the alert
// comes).
func answerServer(t *testing.T, answer []byte) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				hdr := make([]byte, 5) // the client's hello: its record header, then its body
				if _, err := io.ReadFull(c, hdr); err != nil {
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(hdr[3])<<8|int64(hdr[4])); err != nil {
					return
				}
				_, _ = c.Write(answer)
			}()
		}
	}()
	t.Cleanup(func() { _ = lis.Close(); wg.Wait() })
	return lis.Addr().String()
}

// Regression: a TLS 1.2 server not written in Go (OpenSSL's, BoringSSL's) refuses a client
// that sends no certificate with the handshake_failure alert, as RFC 5246 7.4.6 has it, where a
// Go server sends "bad certificate" (and TLS 1.3 "certificate required"). grpc-go's message
// "authentication handshake failed: remote error: tls: handshake failure" was taken for a
// transient failure and retried, though no retry sends a certificate the client has not got.
// Such a server's protocol_version alert, and its hello of a version the client did not offer,
// were already version mismatches, and stay so.
func TestNonGoTLS12RefusalsAreRecognised(t *testing.T) {
	files := tlstest.Write(t)
	creds, err := tlsflags.Flags{CA: files.CA}.ClientCredentials()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                  string
		alert                 byte
		wantMsg               string
		wantCert, wantVersion bool
	}{
		{"handshake failure", 40, "authentication handshake failed: remote error: tls: handshake failure", true, false},
		{"protocol version", 70, "authentication handshake failed: remote error: tls: protocol version not supported", false, true},
		// alert 0: a server hello of TLS 1.1 (0x0302) instead, which the client did not offer.
		{"TLS 1.1 server hello", 0, "authentication handshake failed: tls: server selected unsupported protocol version 302", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := []byte{21, 3, 3, 0, 2, 2, tc.alert} // alert record, TLS 1.2: fatal, alert
			if tc.alert == 0 {
				answer = tls11ServerHello()
			}
			err := check(t, answerServer(t, answer), grpc.WithTransportCredentials(creds))
			st, _ := status.FromError(err)
			if st.Code() != grpccodes.Unavailable || !strings.Contains(st.Message(), tc.wantMsg) {
				t.Fatalf("got %v %q, want Unavailable containing %q", st.Code(), st.Message(), tc.wantMsg)
			}
			if got := tlsflags.IsCertificateFailure(err); got != tc.wantCert {
				t.Errorf("IsCertificateFailure(%q) = %v, want %v", st.Message(), got, tc.wantCert)
			}
			if got := tlsflags.IsVersionMismatch(err); got != tc.wantVersion {
				t.Errorf("IsVersionMismatch(%q) = %v, want %v", st.Message(), got, tc.wantVersion)
			}
		})
	}
}

// tls11ServerHello is a handshake record holding a TLS 1.1 server hello: version 3.2, a zero
// random, no session, TLS_RSA_WITH_AES_128_CBC_SHA, no compression, no extensions.
func tls11ServerHello() []byte {
	body := append([]byte{3, 2}, make([]byte, 32)...)
	body = append(body, 0, 0x00, 0x2f, 0)
	msg := append([]byte{2, 0, 0, byte(len(body))}, body...)
	return append([]byte{22, 3, 2, 0, byte(len(msg))}, msg...)
}

// The handshake_failure alert is a certificate failure in grpc-go's shapes for a handshake
// refused while in progress, whole: not in the -tls connections' refusal (TLS 1.3, after the
// client's side of the handshake), nor in a server's own words.
func TestHandshakeFailureAlertReadWhole(t *testing.T) {
	const refused = `connection error: desc = "transport: authentication handshake failed: remote error: tls: handshake failure"`
	for msg, want := range map[string]bool{
		refused:                             true,
		"last connection error: " + refused: true,
		"last connection error: " + refused + "; last resolver error: produced zero addresses":                                          true,
		`connection error: desc = "transport: authentication handshake failed: remote error: tls: handshake failure for SPECIMEN ALEX"`: false,
		`connection error: desc = "error reading server preface: remote error: tls: handshake failure"`:                                 false,
		"remote error: tls: handshake failure (write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe)":                                 false,
		"remote error: tls: handshake failure": false,
		"backend: " + refused:                  false,
	} {
		if got := tlsflags.IsCertificateFailure(status.Error(grpccodes.Unavailable, msg)); got != want {
			t.Errorf("IsCertificateFailure(Unavailable %q) = %v, want %v", msg, got, want)
		}
	}
}
