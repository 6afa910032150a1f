package app

import (
	"net"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestClientDetailKeepsAFailedServerPreface: a plaintext client of a TLS server (the
// orchestrator without -tls-*, a stub with them) reads grpc-go's `connection error: desc =
// "error reading server preface: EOF"`, and a client whose certificate a TLS 1.3 server
// refuses reads the alert there as often as not. Only descriptions beginning "transport" were
// taken for grpc's words: the logs and the summary said "unavailable" and nothing of TLS.
func TestClientDetailKeepsAFailedServerPreface(t *testing.T) {
	f := tlstest.Write(t)
	sopts, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey}.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(sopts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	err = healthCall(t, lis.Addr().String()) // plaintext
	srv.Stop()
	<-served
	msg := status.Convert(err).Message()
	// "EOF", or a reset if the server closed before reading all the client sent.
	if status.Code(err) != grpccodes.Unavailable || !strings.HasPrefix(msg, `connection error: desc = "error reading server preface: `) {
		t.Fatalf("plaintext client of a TLS server: %v, want grpc's Unavailable, error reading server preface", err)
	}
	if got := clientDetail(err, false); got != msg {
		t.Errorf("plaintext client of a TLS server: detail %q, want grpc's words %q", got, msg)
	}
	for _, msg := range []string{
		`connection error: desc = "error reading server preface: remote error: tls: certificate required"`,
		`connection error: desc = "error reading server preface: remote error: tls: protocol version not supported"`,
		`connection error: desc = "error reading server preface: read tcp 127.0.0.1:34706->127.0.0.1:46241: read: connection reset by peer"`,
		`connection error: desc = "error reading server preface: connection reset by peer"`,
		`last connection error: connection error: desc = "error reading server preface: unexpected EOF"`,
	} {
		if got := clientDetail(status.Error(grpccodes.Unavailable, msg), false); got != msg {
			t.Errorf("detail %q, want grpc's words %q", got, msg)
		}
	}
	// A server's own text in the same shape is still the server's.
	for _, msg := range []string{
		`connection error: desc = "error reading server preface: no record of SPECIMEN ALEX"`,
		`connection error: desc = "error reading server preface: remote error: tls: specimen alex"`,
		`connection error: desc = "error reading server preface: EOF for SPECIMEN ALEX"`,
		`connection error: desc = "error reading server preface: connection reset by SPECIMEN ALEX"`,
	} {
		if got := clientDetail(status.Error(grpccodes.Unavailable, msg), false); got != "" {
			t.Errorf("server's message taken for grpc's: detail %q", got)
		}
	}
}
