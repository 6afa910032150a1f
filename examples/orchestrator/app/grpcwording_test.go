package app

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// healthCall makes one health check on a client for target with opts, and returns its error.
func healthCall(t *testing.T, target string, opts ...grpc.DialOption) error {
	t.Helper()
	cc, err := grpc.NewClient(target, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// TestClientDetailKeepsGrpcsOwnWords: the errors grpc-go itself gives for a request that
// never reached a server (a closed port, a closed in-memory listener, a missing socket, a
// resolver that found no address) keep their words in the logs and the summary.
func TestClientDetailKeepsGrpcsOwnWords(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().String()
	_ = l.Close()
	bl := bufconn.Listen(1 << 10)
	_ = bl.Close()
	noAddrs := manual.NewBuilderWithScheme("bulwark-none")
	noAddrs.InitialState(resolver.State{})
	for name, err := range map[string]error{
		"closed port":      healthCall(t, closedPort),
		"closed bufconn":   healthCall(t, "passthrough:///buf", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) })),
		"missing socket":   healthCall(t, "unix://"+filepath.Join(t.TempDir(), "none.sock")),
		"no address":       healthCall(t, "bulwark-none:///ocr", grpc.WithResolvers(noAddrs)),
		"closed port (rr)": healthCall(t, closedPort, grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}]}`)),
	} {
		msg := status.Convert(err).Message()
		if status.Code(err) != grpccodes.Unavailable || msg == "" {
			t.Fatalf("%s: %v, want grpc's Unavailable", name, err)
		}
		if got := clientDetail(err, false); got != msg {
			t.Errorf("%s: detail %q, want grpc's words %q", name, got, msg)
		}
	}
	// grpc's words for a connection lost under a request, which no test provokes reliably.
	for _, msg := range []string{
		"transport is closing",
		"produced zero addresses",
		"last connection error: connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused\"",
		"last resolver error: produced zero addresses",
		"last connection error: connection error: desc = \"transport: Error while dialing: closed\"; last resolver error: produced zero addresses",
		"write unix ->/run/ocr.sock: write: broken pipe",
		"read tcp 127.0.0.1:34706->127.0.0.1:46241: read: i/o timeout",
		"write tcp 127.0.0.1:34706->127.0.0.1:46241: use of closed network connection",
		"read tcp4 127.0.0.1:34706->127.0.0.1:46241: i/o timeout",
	} {
		if got := clientDetail(status.Error(grpccodes.Unavailable, msg), false); got != msg {
			t.Errorf("detail %q, want grpc's words %q", got, msg)
		}
	}
}

// wordyHealth answers every check with an Unavailable whose message is msg.
type wordyHealth struct {
	healthpb.UnimplementedHealthServer
	msg string
}

func (h wordyHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return nil, status.Error(grpccodes.Unavailable, h.msg)
}

// TestClientDetailLeavesOutAServersLookalike: a server's own message that merely begins as
// grpc's do is the server's text, which may quote the request: only its code is shown. Any
// message starting with one of grpc's openings ("name resolver error:", "read tcp", ...) was
// taken for grpc's words, and logged with the applicant's name in it.
func TestClientDetailLeavesOutAServersLookalike(t *testing.T) {
	const pii = "SPECIMEN ALEX A12345678"
	for _, msg := range []string{
		"connection error: registry unreachable for " + pii,
		`connection error: desc = "no record of ` + pii + `"`,
		`connection error: desc = "transport: Error while dialing: ` + pii + `" and more`,
		"last connection error: registry refused " + pii,
		"name resolver error: no registry entry for " + pii,
		"last resolver error: " + pii,
		"produced zero addresses for " + pii,
		"transport is closing; retry " + pii,
		"read tcp records of " + pii,
		"write tcp 10.0.0.1:1->10.0.0.2:2: write: rejected " + pii,
		"read unix socket of " + pii,
		"write unix: " + pii,
		// The shape of a transport's I/O error whole, with the applicant's data where the
		// addresses or the system's words stand: lower-case words are not the system's words
		// unless they are an errno's (or net's closed connection, or a timeout), and a TCP
		// address is an IP and a port.
		"read tcp 10.0.0.1:1->10.0.0.2:2: read: refused for specimen alex",
		"write tcp 10.0.0.1:1->10.0.0.2:2: no record of specimen alex",
		"write tcp 10.0.0.1:1->" + strings.ReplaceAll(pii, " ", "-") + ": write: broken pipe",
		"read tcp " + strings.ReplaceAll(pii, " ", "-") + "->10.0.0.2:2: read: connection reset by peer",
	} {
		lis := bufconn.Listen(1 << 16)
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, wordyHealth{msg: msg})
		served := make(chan struct{})
		go func() { defer close(served); _ = srv.Serve(lis) }()
		err := healthCall(t, "passthrough:///wordy", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
		srv.Stop()
		<-served
		if status.Convert(err).Message() != msg {
			t.Fatalf("server's %q came back as %v", msg, err)
		}
		if got := clientDetail(err, false); got != "" {
			t.Errorf("server's message taken for grpc's: detail %q", got)
		}
	}
}
