package app

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// TestTLSVersionMismatchIsNotRetried: a client and a server with no TLS version in common (a
// client that stops at TLS 1.2 against a server that starts at 1.3; the -tls client against a
// server that stops at 1.1) fail every handshake alike, and no retry can change that. Through
// the built-in profiles and the orchestrator's classifier, the call costs one attempt, tagged
// TLS_VERSION and classed server_fault (a failure for the breaker), as a refused certificate
// is. It was left transient and retried: 4 attempts of OCR's Extract within the budget.
func TestTLSVersionMismatchIsNotRetried(t *testing.T) {
	files := tlstest.Write(t)
	scfg, err := tlsflags.Flags{Cert: files.ServerCert, Key: files.ServerKey}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	only13, upTo11 := scfg.Clone(), scfg.Clone()
	only13.MinVersion = tls.VersionTLS13
	upTo11.MinVersion, upTo11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	pool := files.CAPool(t)
	for _, tc := range []struct {
		name   string
		server *tls.Config
		creds  credentials.TransportCredentials // instead of the -tls flags' when set
	}{
		{"TLS 1.2 client, TLS 1.3 server", only13, credentials.NewTLS(&tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12})},
		{"TLS 1.1 server", upTo11, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveTLSKYC(t, tc.server)
			f := &flags{addrs: map[string]string{}, tls: tlsflags.Flags{CA: files.CA}}
			for _, svc := range stub.AllServices() {
				f.addrs[svc] = addr
			}
			cfg := config.Builtin()
			tlsc, err := setupTLS(f, cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := &testkit.Recorder{}
			s, err := interceptors.New(cfg, interceptors.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			creds := tlsc.creds
			if tc.creds != nil {
				creds = []grpc.DialOption{grpc.WithTransportCredentials(tc.creds)}
			}
			opts := append(append(slices.Clip(creds), s.DialOptions()...), tlsc.inner...)
			cc, err := grpc.NewClient(addr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			_, err = kycv1.NewOCRServiceClient(cc).Extract(ctx, &kycv1.ExtractRequest{})
			if status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("Extract: %v, want Unavailable", err)
			}
			if got := rec.Count(observe.AttemptFinished); got != 1 {
				t.Errorf("%d attempts, want 1", got)
			}
			calls := rec.Events(observe.CallFinished)
			if len(calls) != 1 || calls[0].Class != codes.ServerFault || calls[0].Reason != tlsflags.ReasonVersion {
				t.Errorf("CallFinished %+v, want one of class server_fault, reason %s", calls, tlsflags.ReasonVersion)
			}
		})
	}
}

// serveTLSKYC serves the three KYC services over TLS with cfg on a loopback port.
func serveTLSKYC(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testkit.Server{}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	kycv1.RegisterLivenessServiceServer(srv, s)
	kycv1.RegisterFaceMatchServiceServer(srv, s)
	kycv1.RegisterOCRServiceServer(srv, s)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-served })
	return lis.Addr().String()
}
