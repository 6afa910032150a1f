package tlsflags_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Through the suite, with the orchestrator's rule (ReasonCertificate and ReasonVersion are
// server_fault), a server the client does not trust, a client certificate the server refuses,
// and a client and a server with no TLS version in common each cost one attempt; a handshake
// that fails otherwise is transient and retried up to max_attempts.
func TestSuiteClassesTLSFailures(t *testing.T) {
	f := tlstest.Write(t)
	sopts, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey, CA: f.CA}.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	mtls, plain := serve(t, sopts...), serve(t)
	only13, upTo11 := versionServers(t, f)
	upTo12 := versionClient(t, f)
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone, Idempotent: true},
			Classifier: codes.Overrides{Reasons: map[string]codes.Class{
				tlsflags.ReasonCertificate: codes.ServerFault, tlsflags.ReasonVersion: codes.ServerFault}},
		}},
		Services: map[string]config.Service{"grpc.health.v1.Health": {Profile: "p"}},
	}
	for _, tc := range []struct {
		name         string
		flags        tlsflags.Flags
		creds        credentials.TransportCredentials // instead of the flags' when set
		addr         string
		wantAttempts int
		wantClass    codes.Class
		wantReason   string
	}{
		{"mutual TLS", tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}, nil, mtls, 1, codes.Success, ""},
		{"untrusted server certificate", tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.RogueCA}, nil, mtls, 1, codes.ServerFault, tlsflags.ReasonCertificate},
		// Whether grpc-go's reader or writer fails first (see TestHandshakeFailures).
		{"client certificate refused", tlsflags.Flags{CA: f.CA}, nil, mtls, 1, codes.ServerFault, tlsflags.ReasonCertificate},
		{"TLS 1.2 client, TLS 1.3 server", tlsflags.Flags{}, upTo12, only13, 1, codes.ServerFault, tlsflags.ReasonVersion},
		{"TLS 1.1 server", tlsflags.Flags{CA: f.CA}, nil, upTo11, 1, codes.ServerFault, tlsflags.ReasonVersion},
		{"plaintext server", tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}, nil, plain, 3, codes.Transient, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &testkit.Recorder{}
			s, err := interceptors.New(cfg, interceptors.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			creds, err := tc.flags.ClientCredentials()
			if err != nil {
				t.Fatal(err)
			}
			if tc.creds != nil {
				creds = tc.creds
			}
			opts := append(append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, s.DialOptions()...), tlsflags.MarkCertificateErrors()...)
			cc, err := grpc.NewClient(tc.addr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
			if got := rec.Count(observe.AttemptFinished); got != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", got, tc.wantAttempts)
			}
			calls := rec.Events(observe.CallFinished)
			if len(calls) != 1 || calls[0].Class != tc.wantClass || calls[0].Reason != tc.wantReason {
				t.Fatalf("CallFinished %+v, want one of class %v, reason %q", calls, tc.wantClass, tc.wantReason)
			}
		})
	}
}

// versionServers serves health over TLS on two loopback ports, with the flags' server
// certificate: one that speaks TLS 1.3 only, one that stops at TLS 1.1.
func versionServers(t *testing.T, f tlstest.Files) (only13, upTo11 string) {
	t.Helper()
	scfg, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	tls13, tls11 := scfg.Clone(), scfg.Clone()
	tls13.MinVersion = tls.VersionTLS13
	tls11.MinVersion, tls11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	return serve(t, grpc.Creds(credentials.NewTLS(tls13))), serve(t, grpc.Creds(credentials.NewTLS(tls11)))
}

// versionClient returns TLS credentials that trust the CA and stop at TLS 1.2.
func versionClient(t *testing.T, f tlstest.Files) credentials.TransportCredentials {
	t.Helper()
	return credentials.NewTLS(&tls.Config{RootCAs: f.CAPool(t), MaxVersion: tls.VersionTLS12})
}

// relayingHealth answers every Check and Watch with err, as a Go server that returns its own
// upstream call's error as it is.
type relayingHealth struct {
	healthpb.UnimplementedHealthServer
	err error
}

func (h relayingHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return nil, h.err
}

func (h relayingHealth) Watch(*healthpb.HealthCheckRequest, healthpb.Health_WatchServer) error {
	return h.err
}

// callBoth makes one Check (unary) and one Watch (a stream, read to its end) through the suite
// with the marker inside it, and returns the recorder of each.
func callBoth(t *testing.T, addr string, fl tlsflags.Flags) map[string]*testkit.Recorder {
	t.Helper()
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone, Idempotent: true},
			Classifier: codes.Overrides{Reasons: map[string]codes.Class{
				tlsflags.ReasonCertificate: codes.ServerFault, tlsflags.ReasonVersion: codes.ServerFault}},
		}},
		Services: map[string]config.Service{"grpc.health.v1.Health": {Profile: "p"}},
	}
	creds, err := fl.ClientCredentials()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*testkit.Recorder{}
	for _, kind := range []string{"unary", "stream"} {
		rec := &testkit.Recorder{}
		s, err := interceptors.New(cfg, interceptors.WithObserver(rec))
		if err != nil {
			t.Fatal(err)
		}
		opts := append(append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, s.DialOptions()...), tlsflags.MarkCertificateErrors()...)
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		// A server handler's context, as the orchestrator's -serve calls with: it carries the
		// peer of the handler's own caller.
		in := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 9}})
		ctx, cancel := context.WithTimeout(in, 5*time.Second)
		hc := healthpb.NewHealthClient(cc)
		if kind == "unary" {
			_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{})
		} else {
			var w healthpb.Health_WatchClient
			if w, err = hc.Watch(ctx, &healthpb.HealthCheckRequest{}); err == nil {
				_, err = w.Recv()
			}
		}
		cancel()
		_ = cc.Close()
		_ = s.Close()
		if status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("%s: %v, want Unavailable", kind, err)
		}
		out[kind] = rec
	}
	return out
}

// A server that relays its upstream's failed handshake (its own client's Unavailable, in
// grpc-go's words) answered: the certificate is its backend's, not this client's, and the
// attempt is transient, retried. The marker went by the text alone and tagged it
// TLS_CERTIFICATE: not retried, and a failure of this client's certificate for the breaker.
// A relayed version mismatch, its upstream's, is not tagged TLS_VERSION either. A handshake
// this client's connection failed is still tagged, unary or stream, in a call made with a
// server handler's context.
func TestRelayedHandshakeFailureIsNotTagged(t *testing.T) {
	relay := func(msg string) string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, relayingHealth{err: status.Error(grpccodes.Unavailable, msg)})
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
		return lis.Addr().String()
	}
	relayedCert := relay(`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`)
	relayedVersion := relay(`connection error: desc = "transport: authentication handshake failed: remote error: tls: protocol version not supported"`)
	f := tlstest.Write(t)
	sopts, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey, CA: f.CA}.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	mtls := serve(t, sopts...)
	_, upTo11 := versionServers(t, f)
	for _, tc := range []struct {
		name         string
		addr         string
		flags        tlsflags.Flags
		wantAttempts int
		wantClass    codes.Class
	}{
		{"relayed", relayedCert, tlsflags.Flags{}, 3, codes.Transient},
		{"relayed version mismatch", relayedVersion, tlsflags.Flags{}, 3, codes.Transient},
		{"untrusted server certificate", mtls, tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.RogueCA}, 1, codes.ServerFault},
		{"TLS 1.1 server", upTo11, tlsflags.Flags{CA: f.CA}, 1, codes.ServerFault},
	} {
		for kind, rec := range callBoth(t, tc.addr, tc.flags) {
			if got := rec.Count(observe.AttemptFinished); got != tc.wantAttempts {
				t.Errorf("%s, %s: %d attempts, want %d", tc.name, kind, got, tc.wantAttempts)
			}
			calls := rec.Events(observe.CallFinished)
			if len(calls) != 1 || calls[0].Class != tc.wantClass {
				t.Errorf("%s, %s: CallFinished %+v, want one of class %v", tc.name, kind, calls, tc.wantClass)
			}
		}
	}
}

// unsentStream is a stream that never had a connection: its context is the caller's, as
// grpc-go's is then, and it fails with a refused handshake.
type unsentStream struct {
	grpc.ClientStream
	ctx context.Context
	err error
}

func (s unsentStream) Context() context.Context { return s.ctx }
func (s unsentStream) SendMsg(any) error        { return nil }
func (s unsentStream) CloseSend() error         { return nil }
func (s unsentStream) RecvMsg(any) error        { return s.err }

// A stream that fails with a refused handshake on its first message, made with a server
// handler's context (which carries that handler's caller as its peer), is tagged: the peer is
// the caller's, not one the stream reached.
func TestStreamRefusalWithCallersPeerIsTagged(t *testing.T) {
	refused := status.Error(grpccodes.Unavailable,
		`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`)
	opts := append(tlsflags.MarkCertificateErrors(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ grpc.Streamer, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			return unsentStream{ctx: ctx, err: refused}, nil
		}))
	cc, err := grpc.NewClient("passthrough:///unused", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 9}})
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Recv()
	if st, _ := status.FromError(err); len(st.Details()) == 0 {
		t.Errorf("Recv: %v with no ErrorInfo, want it tagged %s", err, tlsflags.ReasonCertificate)
	}
}
