package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/app"
)

// TestTLSFilesThatDoNotLoadAreUsageErrors: -tls-cert, -tls-key or -tls-ca naming files that do
// not load (a key that is not the certificate's, a CA file with no certificate in it) is a bad
// command line, as a -config that cannot be read is and as mlstub reports the same flags: a
// usage error (exit status 2) with the hint. It was a failure of the run (exit status 1), with
// no hint.
func TestTLSFilesThatDoNotLoadAreUsageErrors(t *testing.T) {
	f := tlstest.Write(t)
	ext := []string{"-liveness", "127.0.0.1:1", "-facematch", "127.0.0.1:1", "-ocr", "127.0.0.1:1"}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-tls-cert", f.ServerCert, "-tls-key", f.ClientKey}, []string{"-tls-cert", "-tls-key", "orchestrator -h"}},
		{[]string{"-tls-cert", f.ServerKey, "-tls-key", f.ServerKey}, []string{"-tls-cert", "-tls-key", "orchestrator -h"}},
		{[]string{"-tls-ca", f.ServerKey}, []string{"-tls-ca", "orchestrator -h"}},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(tt.args, ext...), &stdout, &stderr)
		if !errors.Is(err, app.ErrUsage) {
			t.Errorf("%v: err %v, want a usage error", tt.args, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr %q does not name %q", tt.args, strings.TrimSpace(stderr.String()), w)
			}
		}
	}
}
