// Package tlstest writes throwaway certificates for tests: a CA, a server and a client
// certificate it signed, a client certificate it signed that has expired, and a second,
// untrusted CA with its own client certificate. Keys are ECDSA P-256, generated at run time;
// certificates (but the expired one) are valid for an hour, for 127.0.0.1, ::1 and localhost.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Files are the paths of the PEM files Write made.
type Files struct {
	CA                    string // the trusted CA's certificate
	ServerCert, ServerKey string // signed by CA, for 127.0.0.1 / localhost
	ClientCert, ClientKey string // signed by CA, for client authentication
	ExpiredCert           string // signed by CA, for client authentication, expired an hour ago
	ExpiredKey            string // its key
	RogueCA               string // another CA, trusted by nobody
	RogueCert, RogueKey   string // a server and client certificate signed by RogueCA
}

// CAPool returns a pool holding the trusted CA's certificate (f.CA), for a client that
// trusts it; tb fails when the file cannot be read or holds no certificate.
func (f Files) CAPool(tb testing.TB) *x509.CertPool {
	tb.Helper()
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		tb.Fatalf("%s holds no certificate", f.CA)
	}
	return pool
}

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// Write generates the certificates into a temporary directory of tb.
func Write(tb testing.TB) Files {
	tb.Helper()
	dir := tb.TempDir()
	f := Files{}
	ca := newCA(tb, "bulwark test CA", filepath.Join(dir, "ca.pem"))
	f.CA = filepath.Join(dir, "ca.pem")
	f.ServerCert, f.ServerKey = leaf(tb, ca, "server", dir, false, x509.ExtKeyUsageServerAuth)
	f.ClientCert, f.ClientKey = leaf(tb, ca, "client", dir, false, x509.ExtKeyUsageClientAuth)
	f.ExpiredCert, f.ExpiredKey = leaf(tb, ca, "expired", dir, true, x509.ExtKeyUsageClientAuth)
	rogue := newCA(tb, "rogue CA", filepath.Join(dir, "rogue-ca.pem"))
	f.RogueCA = filepath.Join(dir, "rogue-ca.pem")
	f.RogueCert, f.RogueKey = leaf(tb, rogue, "rogue", dir, false, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	return f
}

func template(cn string) *x509.Certificate {
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
	}
}

func newCA(tb testing.TB, cn, path string) issuer {
	tb.Helper()
	key := genKey(tb)
	tpl := template(cn)
	tpl.IsCA, tpl.BasicConstraintsValid = true, true
	tpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, path, "CERTIFICATE", der)
	return issuer{cert: cert, key: key}
}

func leaf(tb testing.TB, ca issuer, name, dir string, expired bool, usage ...x509.ExtKeyUsage) (certPath, keyPath string) {
	tb.Helper()
	key := genKey(tb)
	tpl := template(name)
	if expired {
		tpl.NotBefore, tpl.NotAfter = tpl.NotBefore.Add(-2*time.Hour), tpl.NotBefore.Add(-time.Hour)
	}
	tpl.KeyUsage = x509.KeyUsageDigitalSignature
	tpl.ExtKeyUsage = usage
	tpl.DNSNames = []string{"localhost"}
	tpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	writePEM(tb, certPath, "CERTIFICATE", der)
	writePEM(tb, keyPath, "PRIVATE KEY", kder)
	return certPath, keyPath
}

func genKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}
