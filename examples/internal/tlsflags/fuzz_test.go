package tlsflags_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
)

// FuzzFlags gives the three flags files of any content (or, by the bits of set, a flag left
// unset or naming a missing file): a server's and a client's setup never panic, an error names
// the flag at fault, and a server's setup is refused exactly when a client's is or -tls-cert
// is missing.
func FuzzFlags(f *testing.F) {
	files := tlstest.Write(f)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	cert, key, ca := read(files.ServerCert), read(files.ServerKey), read(files.CA)
	for set := range uint8(64) {
		f.Add(cert, key, ca, set)
	}
	f.Add(key, cert, []byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"), uint8(7))
	f.Add(cert, read(files.ClientKey), cert, uint8(7))
	f.Add([]byte{}, []byte{}, []byte{}, uint8(7))
	f.Fuzz(func(t *testing.T, cert, key, ca []byte, set uint8) {
		dir := t.TempDir()
		var fl tlsflags.Flags
		for i, p := range []struct {
			path *string
			data []byte
		}{{&fl.Cert, cert}, {&fl.Key, key}, {&fl.CA, ca}} {
			switch (set >> (2 * i)) & 3 {
			case 0: // unset
			case 1:
				*p.path = filepath.Join(dir, "missing.pem")
			default:
				*p.path = filepath.Join(dir, strings.Repeat("x", i+1)+".pem")
				if err := os.WriteFile(*p.path, p.data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		creds, cerr := fl.ClientCredentials()
		if (cerr == nil) == (creds == nil) {
			t.Fatalf("%+v: ClientCredentials = %v, %v", fl, creds, cerr)
		}
		scfg, serr := fl.ServerConfig()
		for _, err := range []error{cerr, serr} {
			if err != nil && !strings.Contains(err.Error(), "-tls-") {
				t.Fatalf("%+v: error %q names no flag", fl, err)
			}
		}
		if wantErr := cerr != nil || fl.Enabled() && fl.Cert == ""; (serr != nil) != wantErr {
			t.Fatalf("%+v: ServerConfig = %v, ClientCredentials = %v", fl, serr, cerr)
		}
		if (scfg != nil) != (serr == nil && fl.Enabled()) {
			t.Fatalf("%+v: ServerConfig = %v, %v", fl, scfg, serr)
		}
	})
}
