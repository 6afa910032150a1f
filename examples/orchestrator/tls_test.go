package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
)

type summary struct {
	Total    int `json:"total"`
	Failed   int `json:"failed"`
	Services map[string]struct {
		Calls    int `json:"calls"`
		Attempts int `json:"attempts"`
	} `json:"services"`
}

// The orchestrator and an mlstub speaking mutual TLS: verifications pass; a plaintext or
// untrusting orchestrator gets nothing through, and a refused certificate is not retried.
func TestMutualTLS(t *testing.T) {
	f := tlstest.Write(t)
	sopts, err := tlsflags.Flags{Cert: f.ServerCert, Key: f.ServerKey, CA: f.CA}.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ml, err := stub.Start(ctx, stub.Config{Services: stub.AllServices(), Listen: "127.0.0.1:0"}, stub.WithServerOptions(sopts...))
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Stop()
	external := []string{"-liveness", ml.Addr(), "-facematch", ml.Addr(), "-ocr", ml.Addr(), "-n", "4", "-json"}
	batch := func(t *testing.T, tlsArgs ...string) summary {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(ctx, append(external, tlsArgs...), &stdout, &stderr); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		var s summary
		if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
			t.Fatalf("summary %q: %v", stdout.String(), err)
		}
		return s
	}
	t.Run("mutual TLS", func(t *testing.T) {
		s := batch(t, "-tls-cert", f.ClientCert, "-tls-key", f.ClientKey, "-tls-ca", f.CA)
		if s.Total != 4 || s.Failed != 0 {
			t.Errorf("summary %+v, want 4 verifications, none failed", s)
		}
	})
	t.Run("plaintext refused", func(t *testing.T) {
		if s := batch(t); s.Failed != 4 {
			t.Errorf("summary %+v, want every verification failed", s)
		}
	})
	t.Run("server certificate not trusted", func(t *testing.T) {
		s := batch(t, "-tls-cert", f.ClientCert, "-tls-key", f.ClientKey, "-tls-ca", f.RogueCA)
		if s.Failed != 4 {
			t.Errorf("summary %+v, want every verification failed", s)
		}
		if len(s.Services) != 3 {
			t.Fatalf("services %+v, want three", s.Services)
		}
		for name, svc := range s.Services {
			if svc.Calls == 0 || svc.Attempts != svc.Calls {
				t.Errorf("%s: %d attempts for %d calls; a refused certificate is not retried", name, svc.Attempts, svc.Calls)
			}
		}
	})
	t.Run("embedded stubs", func(t *testing.T) {
		err := run(ctx, []string{"-n", "1", "-tls-cert", f.ClientCert, "-tls-key", f.ClientKey}, new(bytes.Buffer), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), "external services") {
			t.Errorf("TLS with embedded stubs: %v, want an error", err)
		}
	})
}
