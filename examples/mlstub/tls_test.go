package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// With -tls-cert, -tls-key and -tls-ca the stub serves mutual TLS only.
func TestTLSFlags(t *testing.T) {
	f := tlstest.Write(t)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *stub.Stub, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-tls-cert", f.ServerCert, "-tls-key", f.ServerKey, "-tls-ca", f.CA},
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
	extract := func(fl tlsflags.Flags) error {
		creds, err := fl.ClientCredentials()
		if err != nil {
			t.Fatal(err)
		}
		cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		_, err = kycv1.NewOCRServiceClient(cc).Extract(cctx, &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(1, false)})
		return err
	}
	if err := extract(tlsflags.Flags{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA}); err != nil {
		t.Errorf("mutual TLS: %v", err)
	}
	if err := extract(tlsflags.Flags{}); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("plaintext: %v, want Unavailable (refused)", err)
	}
	if err := extract(tlsflags.Flags{CA: f.CA}); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("no client certificate: %v, want Unavailable (refused)", err)
	}
}

func TestTLSFlagErrors(t *testing.T) {
	f := tlstest.Write(t)
	for _, args := range [][]string{{"-tls-ca", f.CA}, {"-tls-cert", f.ServerCert}} {
		err := run(context.Background(), append([]string{"-listen", "127.0.0.1:0"}, args...), io.Discard, nil)
		if err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}

// TestTLSFilesThatDoNotLoadAreUsageErrors: a key pair or a CA file that does not load is a bad
// command line (exit status 2, the hint), as in the orchestrator.
func TestTLSFilesThatDoNotLoadAreUsageErrors(t *testing.T) {
	f := tlstest.Write(t)
	for _, args := range [][]string{
		{"-tls-cert", f.ServerCert, "-tls-key", f.ClientKey},
		{"-tls-cert", f.ServerCert, "-tls-key", f.ServerKey, "-tls-ca", f.ServerKey},
	} {
		var stderr strings.Builder
		err := run(context.Background(), append([]string{"-listen", "127.0.0.1:0"}, args...), &stderr, nil)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "mlstub -h") {
			t.Errorf("run %q: %v (stderr %q), want a usage error with the hint", args, err, stderr.String())
		}
	}
}
