package app

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// depWordsAddrs are the dependency addresses FuzzDependencyWords dials, by the bits of its
// input: a TCP one and the unix ones whose socket path a transport's I/O error names.
var depWordsAddrs = []string{"10.0.0.7:50051", "unix:/run/ocr.sock", "unix:///run/ocr.sock", "unix-abstract:ocr"}

// FuzzDependencyWords builds the messages grpc-go, crypto/tls and net write for an attempt that
// failed (a transport's I/O error, a refused certificate, a connection error, a resolver's),
// puts an arbitrary token, a server's text, in one of their parts (or at a byte offset), and
// checks that the token never survives into the words the orchestrator keeps (the summary's
// last error and the log's error field) unless it is text of Go's or grpc-go's own formats (an
// alert, an errno's words, an IP and port without zone, an op or a network) or is in the
// dependency's own address. tlsflags.IsRefusal and IsCertificateFailure hold the same rule:
// no message carrying such a token is a refusal, and none outside grpc-go's shapes a
// certificate failure.
func FuzzDependencyWords(f *testing.F) {
	for _, s := range []struct {
		token                string
		where, shape, alert  uint8
		errno, addr, variant uint8
		reached              bool
	}{
		{"SPECIMEN-ALEX", 0, 0, 42, 32, 0, 0, true},
		{"SPECIMEN-ALEX", 4, 1, 116, 32, 1, 0, false},
		{"/run/SPECIMEN", 4, 2, 42, 104, 2, 1, false},
		{"10.0.0.8:1", 3, 0, 42, 32, 0, 0, true},
		{"Jane Doe", 9, 1, 42, 32, 0, 2, false},
		{"x", 10, 3, 42, 32, 0, 0, false},
		{"ghost.example", 8, 5, 42, 32, 0, 0, false},
		{"remote error: tls: bad certificate", 0, 1, 42, 32, 0, 0, true},
	} {
		f.Add(s.token, s.where, s.shape, s.alert, s.errno, s.addr, s.variant, s.reached)
	}
	own := goOwnTexts()
	f.Fuzz(func(t *testing.T, token string, where, shape, alert, errno, addrBits, variant uint8, reached bool) {
		addr := depWordsAddrs[int(addrBits)%len(depWordsAddrs)]
		parts := depWordsParts(addr, alert, errno)
		base := parts.message(shape, variant)
		var msg string
		if int(where) < len(parts.fields()) {
			*parts.fields()[where] = token
			msg = parts.message(shape, variant)
		} else {
			i := int(where) * len(base) / 256 % (len(base) + 1)
			msg = base[:i] + token + base[i:]
		}
		// A token that is Go's own text in some part, or already in the message without it,
		// or in the address the line shows, may be kept: it says nothing a server chose. One
		// put in a part the shape does not use is not in the message at all.
		// A server chooses a message's text only on an attempt that reached it; grpc-go's words
		// for one that did not are its own, but for a unix socket's path (ownSockets checks it
		// whatever the attempt).
		serverText := reached || strings.HasPrefix(addr, "unix") && (where == 3 || where == 4)
		exempt := !serverText || own[token] || token == "" || !strings.Contains(msg, token) || strings.Contains(base, token) || strings.Contains(addr, token) || ownAddrPort(token) || addrText(token)

		core, logs := observer.New(zap.DebugLevel)
		d := newDepErrors(map[string]string{kyc.KeyOCR: addr}, func(string) *codes.Classifier { return codes.Default() }, zap.New(core))
		err := status.Error(grpccodes.Unavailable, msg)
		d.record(kycv1.OCRService_Extract_FullMethodName, err, reached)
		last := d.snapshot()[kyc.KeyOCR]
		kept := strings.TrimSuffix(strings.TrimPrefix(last, "UNAVAILABLE"), " ("+addr+")")
		if !exempt && strings.Contains(kept, token) {
			t.Fatalf("message %q (reached: %v, addr %s): token %q survives in the summary's %q", msg, reached, addr, token, last)
		}
		for _, e := range logs.All() {
			if v, ok := e.ContextMap()["error"].(string); ok && !exempt && strings.Contains(v, token) {
				t.Fatalf("message %q (reached: %v, addr %s): token %q survives in the log's error=%q", msg, reached, addr, token, v)
			}
		}
		exempt = own[token] || token == "" || !strings.Contains(msg, token) || strings.Contains(base, token) || ownAddrPort(token) || addrText(token)
		if !exempt && tlsflags.IsRefusal(msg) && !inUnixPath(msg, token) {
			t.Fatalf("IsRefusal(%q) = true with token %q in it", msg, token)
		}
		if !exempt && tlsflags.IsCertificateFailure(err) && !grpcCertShape(msg) && !tlsflags.IsRefusal(msg) {
			t.Fatalf("IsCertificateFailure(%q) = true with token %q in it", msg, token)
		}
	})
}

// depWordsParser holds the parts of the messages FuzzDependencyWords builds, each of which
// the fuzzer may replace with its token.
type depWordsParser struct {
	alert, op, network, local, remote, syscall, sysWords, dnsHost, dnsServer, sep, desc string
}

func (p *depWordsParser) fields() []*string {
	return []*string{&p.alert, &p.op, &p.network, &p.local, &p.remote, &p.syscall, &p.sysWords, &p.dnsHost, &p.dnsServer, &p.sep, &p.desc}
}

// io is a net.OpError's text for the parts, written by net itself when they are its own.
func (p *depWordsParser) io(variant uint8) string {
	var sysErr string
	switch variant % 3 {
	case 0:
		sysErr = p.syscall + ": " + p.sysWords
	default:
		sysErr = p.sysWords
	}
	s := p.op + " " + p.network + " "
	if p.local != "" || variant%2 == 0 {
		s += p.local + "->"
	}
	return s + p.remote + ": " + sysErr
}

func (p *depWordsParser) message(shape, variant uint8) string {
	switch shape % 8 {
	case 0:
		return p.io(variant)
	case 1:
		return p.alert + p.sep + p.io(variant) + ")"
	case 2:
		return "connection error: desc = " + strconv.Quote("error reading server preface: "+p.io(variant))
	case 3:
		return "connection error: desc = " + strconv.Quote(p.desc+p.alert)
	case 4:
		return "last connection error: connection error: desc = " + strconv.Quote(p.desc+p.alert) + "; last resolver error: produced zero addresses"
	case 5:
		return "name resolver error: dns: A record lookup error: lookup " + p.dnsHost + " on " + p.dnsServer + ": no such host"
	case 6:
		return "connection error: desc = " + strconv.Quote("error reading server preface: "+p.alert)
	default:
		return `connection error: desc = "transport is closing"`
	}
}

// depWordsParts are Go's own parts for a connection to addr: crypto/tls's alert, and net's
// OpError (built by net, so its text is net's) for a write on that connection.
func depWordsParts(addr string, alert, errno uint8) *depWordsParser {
	var src, dst net.Addr
	network := "tcp"
	if sock := socketOf(addr); sock != "" {
		network = "unix"
		src, dst = &net.UnixAddr{Name: "", Net: "unix"}, &net.UnixAddr{Name: sock, Net: "unix"}
	} else {
		ap := netip.MustParseAddrPort(addr)
		src, dst = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:40000")), net.TCPAddrFromAddrPort(ap)
	}
	var sysErr error = syscall.Errno(errno)
	switch errno {
	case 0:
		sysErr = net.ErrClosed
	case 255:
		sysErr = os.ErrDeadlineExceeded
	}
	opErr := &net.OpError{Op: "write", Net: network, Source: src, Addr: dst, Err: os.NewSyscallError("write", sysErr)}
	var sc *os.SyscallError
	if !errors.As(opErr.Err, &sc) {
		panic("no syscall error")
	}
	return &depWordsParser{
		alert:     "remote error: " + tls.AlertError(alert).Error(),
		op:        opErr.Op,
		network:   opErr.Net,
		local:     opErr.Source.String(),
		remote:    opErr.Addr.String(),
		syscall:   sc.Syscall,
		sysWords:  sc.Err.Error(),
		dnsHost:   "ocr.internal",
		dnsServer: "10.0.0.2:53",
		sep:       " (",
		desc:      "transport: authentication handshake failed: ",
	}
}

// goOwnTexts are the texts of Go's own that a part of a message may be: the alerts, the
// errnos' and closed connections' words, the ops and networks.
func goOwnTexts() map[string]bool {
	m := map[string]bool{"read": true, "write": true, "tcp": true, "tcp4": true, "tcp6": true, "unix": true,
		net.ErrClosed.Error(): true, os.ErrDeadlineExceeded.Error(): true, " (": true, "@": true,
		"transport: authentication handshake failed: ": true, "transport": true}
	for a := range 256 {
		m["remote error: "+tls.AlertError(a).Error()] = true
	}
	for e := syscall.Errno(1); e < 256; e++ {
		m[e.Error()] = true
	}
	return m
}

// ownAddrPort reports whether s is an IP and port as net writes a TCP address of this
// client's connections: no zone, which is text of the name's choosing.
func ownAddrPort(s string) bool {
	ap, err := netip.ParseAddrPort(s)
	return err == nil && ap.Addr().Zone() == "" && ap.String() == s
}

// addrText reports whether s is made of the characters an IP and a port are written with:
// put into an address, it makes another address (10.0.0.1 and "2" make 10.0.20.1), which net
// could have written, and carries no words.
func addrText(s string) bool {
	return strings.Trim(s, "0123456789abcdefABCDEF.:[]") == ""
}

// inUnixPath reports whether token stands where msg, a refusal on a unix socket, names the
// socket's path: any text there is the caller's to check (IsTransportIO says so).
func inUnixPath(msg, token string) bool {
	_, io, _ := strings.Cut(msg, " (write unix ")
	path, _, _ := strings.Cut(io, ": ")
	return strings.Contains(path, token)
}

// grpcCertShape reports whether msg is in one of grpc-go's shapes for a connection it could
// not make: a quoted ConnectionError, after "last connection error: " or not.
func grpcCertShape(msg string) bool {
	msg = strings.TrimPrefix(msg, "last connection error: ")
	msg, _, _ = strings.Cut(msg, "; last resolver error: ")
	q, ok := strings.CutPrefix(msg, "connection error: desc = ")
	if !ok {
		return false
	}
	desc, err := strconv.Unquote(q)
	return err == nil && strconv.Quote(desc) == q
}
