package tlsflags_test

import (
	"context"
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
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Through the suite, with the orchestrator's rule (ReasonCertificate is server_fault), a server
// the client does not trust costs one attempt; a handshake that fails otherwise is transient
// and retried up to max_attempts.
func TestSuiteClassesTLSFailures(t *testing.T) {
	f := tlstest.Write(t)
	sopts, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey, CA: f.CA}.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	mtls, plain := serve(t, sopts...), serve(t)
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Retry:      &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone, Idempotent: true},
			Classifier: codes.Overrides{Reasons: map[string]codes.Class{tlsflags.ReasonCertificate: codes.ServerFault}},
		}},
		Services: map[string]config.Service{"grpc.health.v1.Health": {Profile: "p"}},
	}
	for _, tc := range []struct {
		name         string
		flags        tlsflags.Flags
		addr         string
		wantAttempts int
		wantClass    codes.Class
	}{
		{"mutual TLS", tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}, mtls, 1, codes.Success},
		{"untrusted server certificate", tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.RogueCA}, mtls, 1, codes.ServerFault},
		// Whether grpc-go's reader or writer fails first (see TestHandshakeFailures).
		{"client certificate refused", tlsflags.Flags{CA: f.CA}, mtls, 1, codes.ServerFault},
		{"plaintext server", tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}, plain, 3, codes.Transient},
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
			if len(calls) != 1 || calls[0].Class != tc.wantClass {
				t.Fatalf("CallFinished %+v, want one of class %v", calls, tc.wantClass)
			}
		})
	}
}
