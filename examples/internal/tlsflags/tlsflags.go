package tlsflags

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// ReasonCertificate is the google.rpc.ErrorInfo reason MarkCertificateErrors adds to a failed
// attempt whose TLS handshake was refused over a certificate.
const ReasonCertificate = "TLS_CERTIFICATE"

// ReasonVersion is the google.rpc.ErrorInfo reason MarkCertificateErrors adds to a failed
// attempt whose TLS handshake found no protocol version that both sides speak.
const ReasonVersion = "TLS_VERSION"

// Domain is the ErrorInfo domain of ReasonCertificate and ReasonVersion.
const Domain = "bulwark.examples"

// Flags are the -tls-cert, -tls-key and -tls-ca flags. The zero value is plaintext.
type Flags struct {
	Cert string // PEM certificate (chain) presented to the peer
	Key  string // its PEM private key
	CA   string // PEM CA bundle: verifies the peer; on a server, requires client certificates
}

// Register adds the three flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Cert, "tls-cert", "", "PEM certificate `file` presented to peers (with -tls-key); turns TLS on")
	fs.StringVar(&f.Key, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&f.CA, "tls-ca", "", "PEM CA `file` that verifies peers; a server then requires client certificates (mutual TLS)")
}

// Enabled reports whether any TLS flag is set: then every connection is TLS and plaintext is
// refused.
func (f Flags) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Validate checks that the flags make sense together and name readable files.
func (f Flags) Validate() error {
	switch {
	case f.Cert != "" && f.Key == "":
		return fmt.Errorf("-tls-key is missing: -tls-cert %s needs the key of its certificate (-tls-cert and -tls-key go together)", f.Cert)
	case f.Key != "" && f.Cert == "":
		return fmt.Errorf("-tls-cert is missing: -tls-key %s needs the certificate of its key (-tls-cert and -tls-key go together)", f.Key)
	}
	for _, p := range []struct{ flag, path string }{{"-tls-cert", f.Cert}, {"-tls-key", f.Key}, {"-tls-ca", f.CA}} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			return fmt.Errorf("%s: %w", p.flag, err)
		}
	}
	return nil
}

func (f Flags) pool() (*x509.CertPool, error) {
	if f.CA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", f.CA)
	}
	return pool, nil
}

func (f Flags) keyPair() ([]tls.Certificate, error) {
	if f.Cert == "" {
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert %s, -tls-key %s: %w", f.Cert, f.Key, err)
	}
	return []tls.Certificate{c}, nil
}

// ServerOptions returns the options that make a gRPC server speak TLS only (nil when TLS is
// off): its certificate, and with a CA, client certificates required and verified against it.
// A TLS server refuses plaintext clients: their handshake fails.
func (f Flags) ServerOptions() ([]grpc.ServerOption, error) {
	cfg, err := f.ServerConfig()
	if cfg == nil || err != nil {
		return nil, err
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(cfg))}, nil
}

// ServerConfig returns the TLS configuration of a server (nil when TLS is off), the one
// ServerOptions gives a gRPC server: for another listener of the same command (an HTTP
// endpoint through tls.NewListener), so that it is served as the gRPC address is.
func (f Flags) ServerConfig() (*tls.Config, error) {
	if !f.Enabled() {
		return nil, nil
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Cert == "" {
		return nil, errors.New("a TLS server needs -tls-cert and -tls-key")
	}
	certs, pool, err := f.material()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
	if pool != nil {
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientCredentials returns a client's transport credentials: plaintext when TLS is off, else
// TLS verifying the server against the CA (the system roots without one) and presenting the
// certificate, if any.
func (f Flags) ClientCredentials() (credentials.TransportCredentials, error) {
	if !f.Enabled() {
		return insecure.NewCredentials(), nil
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	certs, pool, err := f.material()
	if err != nil {
		return nil, err
	}
	creds := credentials.NewTLS(&tls.Config{Certificates: certs, RootCAs: pool, MinVersion: tls.VersionTLS12})
	return alertCreds{creds}, nil
}

// alertCreds are a client's TLS credentials whose connections report the server's refusal of
// the client certificate when a write meets the connection it reset (see alertConn).
type alertCreds struct {
	credentials.TransportCredentials
}

func (c alertCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return conn, info, err
	}
	return newAlertConn(conn), info, nil
}

func (c alertCreds) Clone() credentials.TransportCredentials {
	return alertCreds{c.TransportCredentials.Clone()}
}

// alertConn is a client's TLS connection. Under TLS 1.3 the server checks the client's
// certificate after the client's side of the handshake is over; refusing it, the server sends
// an alert and closes the connection, which the client's next write then meets as "broken
// pipe" or "connection reset by peer". grpc-go reports whichever of its writer and its reader
// fails first, and the writer's error says nothing of the certificate. So a write that fails
// on a reset connection reads what the server sent last: the read in progress (grpc-go's
// reader) when there is one, else a read of its own, whose bytes, if any, the next Read
// returns. When that read met the server's alert, the write returns the alert with its error.
//
// The read deadline is the caller's: grpc-go's transport Close sets one (a second) so that
// its reader cannot hold Close, maybe while a failed write reads. So the caller's deadlines
// go through alertConn, which keeps the last one; the failed write's read is bounded by the
// earlier of it and alertWait, and the caller's is put back after that read.
type alertConn struct {
	net.Conn
	turn    chan struct{} // holds one token, which each read takes while it reads
	pending []byte        // read by a failed write, for the next Read (under turn)
	readErr error         // the first error a read met (under turn)

	mu           sync.Mutex
	readDeadline time.Time // Guarded by mu: the caller's last read deadline (zero: none).
	probing      bool      // Guarded by mu: a failed write's read is under its own bound.
	probeEnd     time.Time // Guarded by mu: that bound.
}

// alertWait bounds how long a failed write waits to read: the connection was reset, so a read
// ends at once; the bound only keeps a stuck one from holding the write, and is lifted after
// that read.
const alertWait = time.Second

func newAlertConn(c net.Conn) *alertConn {
	a := &alertConn{Conn: c, turn: make(chan struct{}, 1)}
	a.turn <- struct{}{}
	return a
}

func (c *alertConn) Read(b []byte) (int, error) {
	<-c.turn
	defer func() { c.turn <- struct{}{} }()
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.read(b)
}

// read reads from the connection, noting the first error; the caller holds the turn.
func (c *alertConn) read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.readErr == nil {
		c.readErr = err
	}
	return n, err
}

func (c *alertConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil || !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		return n, err
	}
	var readErr error
	t := time.NewTimer(alertWait)
	defer t.Stop()
	select {
	case <-c.turn: // no read in progress, or it has ended
		if c.readErr == nil && len(c.pending) == 0 {
			c.probe(time.Now().Add(alertWait))
			buf := make([]byte, 512)
			m, _ := c.read(buf)
			c.pending = buf[:m]
			// The bound was this read's: the caller's next reads (of the pending bytes, then
			// on to the connection's end) are under its own deadline, set before or during
			// this read, and no other.
			c.endProbe()
		}
		readErr = c.readErr
		c.turn <- struct{}{}
	case <-t.C:
	}
	if op := (*net.OpError)(nil); errors.As(readErr, &op) && op.Op == "remote error" {
		return n, &refusedError{alert: readErr, write: err}
	}
	return n, err
}

// SetReadDeadline sets the caller's read deadline; during a failed write's read, the earlier
// of it and that read's bound holds until the read ends.
func (c *alertConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	return c.Conn.SetReadDeadline(c.effectiveLocked())
}

// SetDeadline sets the caller's read and write deadlines, the read one as SetReadDeadline does.
func (c *alertConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// probe bounds a failed write's read by end (and by the caller's deadline, if earlier).
func (c *alertConn) probe(end time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probing, c.probeEnd = true, end
	_ = c.Conn.SetReadDeadline(c.effectiveLocked())
}

// endProbe lifts the failed write's bound: the caller's deadline, if any, is the one left.
func (c *alertConn) endProbe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probing = false
	_ = c.Conn.SetReadDeadline(c.readDeadline)
}

// effectiveLocked is the read deadline the connection must have: the caller's, or during a
// failed write's read the earlier of the caller's and that read's bound. The caller holds mu.
func (c *alertConn) effectiveLocked() time.Time {
	if c.probing && (c.readDeadline.IsZero() || c.probeEnd.Before(c.readDeadline)) {
		return c.probeEnd
	}
	return c.readDeadline
}

// SyscallConn is the TLS connection's own, as credentials.NewTLS gives it (channelz reads the
// socket's options through it).
func (c *alertConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("tlsflags: the connection has no syscall.Conn")
}

// refusedError is a write that met a connection the server reset after its TLS alert.
type refusedError struct{ alert, write error }

// Error begins with the alert, "remote error: tls: certificate required", as
// IsCertificateFailure looks for it.
func (e *refusedError) Error() string   { return e.alert.Error() + " (" + e.write.Error() + ")" }
func (e *refusedError) Unwrap() []error { return []error{e.alert, e.write} }

// material reads the key pair (none without -tls-cert) and the CA pool (nil without -tls-ca).
func (f Flags) material() ([]tls.Certificate, *x509.CertPool, error) {
	certs, err := f.keyPair()
	if err != nil {
		return nil, nil, err
	}
	pool, err := f.pool()
	if err != nil {
		return nil, nil, err
	}
	return certs, pool, nil
}

// certificateFailures are the texts grpc-go's Unavailable carries when a TLS handshake was
// refused over a certificate, on either side: the client did not trust the server's
// ("x509: ...", "tls: failed to verify certificate"), or the server refused the client's
// (the alerts "bad certificate", "unknown certificate authority", "certificate required"...,
// as crypto/tls words them: a Go server refuses an expired client certificate with
// "expired certificate").
var certificateFailures = []string{
	"x509: ",
	"tls: failed to verify certificate",
	"tls: bad certificate",
	"tls: unknown certificate authority",
	"tls: certificate required",
	"tls: unsupported certificate",
	"tls: revoked certificate",
	"tls: expired certificate",
	"tls: unknown certificate",
}

// handshakeRefusal is grpc-go's ConnectionError for a handshake that the server refused with
// the handshake_failure alert: a TLS 1.2 server's refusal of a client that sent no certificate
// (RFC 5246 7.4.6), as servers not written in Go (OpenSSL's, BoringSSL's) send it; a Go server
// sends "bad certificate". Only that shape, whole, is a certificate failure: the alert comes
// while the client's handshake is in progress, and no text of a server's own is read so.
var handshakeRefusal = `desc = "transport: authentication handshake failed: remote error: ` + tls.AlertError(40).Error() + `"`

// IsCertificateFailure reports whether err is grpc-go's Unavailable for a TLS handshake that a
// certificate made fail. grpc-go says so only in the status message, which for a connection
// it could not make is a ConnectionError's text, `connection error: desc = "..."` with the
// description quoted to its end (pick_first's and round_robin's wording), or
// "last connection error: connection error: " (a balancer on grpc-go's balancer/base, whose
// "; last resolver error: ..." tail is not searched), or, for the server's refusal of the
// client's certificate met by a write (ClientCredentials' connections find the alert then), is
// a refusedError's "remote error: tls: <alert> (write ...)"; a server's own Unavailable (one
// about its backend's certificate, say, such as crypto/tls's bare "remote error: tls: bad
// certificate") is not the client's handshake failing.
func IsCertificateFailure(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != grpccodes.Unavailable {
		return false
	}
	msg := st.Message()
	if rest, ok := strings.CutPrefix(msg, "last connection error: connection error: "); ok {
		msg, _, _ = strings.Cut(rest, "; last resolver error: ")
		if !isQuotedDesc(msg) {
			return false
		}
	} else if rest, ok := strings.CutPrefix(msg, "connection error: "); ok {
		if msg = rest; !isQuotedDesc(msg) {
			return false
		}
	} else if !IsRefusal(msg) {
		return false
	}
	if msg == handshakeRefusal {
		return true
	}
	for _, s := range certificateFailures {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// isQuotedDesc reports whether msg is, whole, what a grpc-go ConnectionError's text holds after
// "connection error: ": `desc = ` then its description as %q quotes it. A message that goes on
// in other words, or quotes otherwise, is not grpc-go's.
func isQuotedDesc(msg string) bool {
	q, ok := strings.CutPrefix(msg, "desc = ")
	if !ok {
		return false
	}
	desc, err := strconv.Unquote(q)
	return err == nil && strconv.Quote(desc) == q
}

// IsRefusal reports whether msg is, whole, a refusedError's text: a TLS alert as crypto/tls
// words it, then the failed write as the transport words it, in parentheses ("remote error:
// tls: certificate required (write tcp A->B: write: broken pipe)"). A server's own message in
// that shape, with words of its own for the alert or the write, is the server's, and so is
// one that merely begins with an alert ("remote error: tls: bad certificate", about its
// backend's certificate). It is the one check of that shape: the orchestrator's logs keep a
// message it accepts, so it accepts nothing a server could have chosen but a unix socket's
// path (see IsTransportIO).
func IsRefusal(msg string) bool {
	alert, rest, ok := strings.Cut(msg, " (")
	if !ok || !IsAlert(alert) {
		return false
	}
	write, ok := strings.CutSuffix(rest, ")")
	return ok && strings.HasPrefix(write, "write ") && IsTransportIO(write)
}

// IsAlert reports whether msg is, whole, crypto/tls's text for a TLS alert the peer sent
// ("remote error: tls: certificate required").
func IsAlert(msg string) bool { return tlsAlerts[msg] }

// tlsAlerts are the texts of the TLS alerts a peer can send, as crypto/tls gives them.
var tlsAlerts = func() map[string]bool {
	m := map[string]bool{}
	for a := range 256 {
		m["remote error: "+tls.AlertError(a).Error()] = true
	}
	return m
}()

// IsTransportIO reports whether msg is, whole, a net.OpError's text for a read or a write on
// a TCP or unix connection: its addresses (a TCP connection's are IPs and ports), then the
// system's own words (see IsSystemError): "write tcp A->B: write: broken pipe", "read unix
// ->/run/ocr.sock: read: connection reset by peer", "write tcp A->B: use of closed network
// connection". Lower-case words that are none of those, or a name where a TCP address
// stands (an IPv6 zone too: a link-local dependency's words are not kept), are a server's. A
// unix socket's path is any text: a caller that shows msg checks that the path is its own
// socket's (the orchestrator's logs do).
func IsTransportIO(msg string) bool {
	m := transportIO.FindStringSubmatch(msg)
	if m == nil || !systemWords[m[5]] {
		return false
	}
	if m[2] == "unix" {
		return true
	}
	local, remote := strings.TrimSuffix(m[3], "->"), m[4]
	return isIPPort(remote) && (local == "" || isIPPort(local))
}

// isIPPort reports whether s is an IP and a port, as a TCP connection's address is written,
// with no zone: an IPv6 zone ("[fe80::1%eth0]:443") is any text, a name, and one in a
// server's message could be anything the server chose.
func isIPPort(s string) bool {
	ap, err := netip.ParseAddrPort(s)
	return err == nil && ap.Addr().Zone() == ""
}

// transportIO is the shape IsTransportIO reads: op, network, local address and "->", remote
// address, the syscall, the system's words.
var transportIO = regexp.MustCompile(`^(read|write) (tcp[46]?|unix) (\S*->)?(\S+): (?:(?:read|write): )?(.+)$`)

// IsSystemError reports whether msg is, whole, the text a transport's I/O error ends with: an
// errno's (syscall.Errno's own table), a closed connection's or a timeout's.
func IsSystemError(msg string) bool { return systemWords[msg] }

// systemWords are the texts IsSystemError accepts.
var systemWords = func() map[string]bool {
	m := map[string]bool{net.ErrClosed.Error(): true, os.ErrDeadlineExceeded.Error(): true}
	for e := syscall.Errno(1); e < 256; e++ { // every errno of Linux and the BSDs
		if s := e.Error(); !strings.HasPrefix(s, "errno ") {
			m[s] = true
		}
	}
	return m
}()

// IsVersionMismatch reports whether err is grpc-go's Unavailable for a TLS handshake that
// failed because the client and the server share no protocol version: the server refused the
// client's hello with its protocol_version alert ("remote error: tls: protocol version not
// supported", as crypto/tls words it), or the server chose a version the client does not
// speak ("tls: server selected unsupported protocol version 302", crypto/tls's own refusal).
// The message is read whole, in grpc-go's shape for a connection it could not make:
// `connection error: desc = "transport: authentication handshake failed: <that>"`, or
// "last connection error: " then that (a balancer on grpc-go's balancer/base, whose "; last
// resolver error: ..." tail is not read). A message with any other words, a server's own,
// is not a version mismatch, whatever it says of TLS versions.
func IsVersionMismatch(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != grpccodes.Unavailable {
		return false
	}
	msg := st.Message()
	if rest, ok := strings.CutPrefix(msg, "last connection error: "); ok {
		msg, _, _ = strings.Cut(rest, "; last resolver error: ")
	}
	q, ok := strings.CutPrefix(msg, "connection error: desc = ")
	if !ok {
		return false
	}
	desc, uerr := strconv.Unquote(q)
	if uerr != nil || strconv.Quote(desc) != q {
		return false
	}
	tlsErr, ok := strings.CutPrefix(desc, "transport: authentication handshake failed: ")
	return ok && (tlsErr == versionAlert || unsupportedVersion.MatchString(tlsErr))
}

// versionAlert is crypto/tls's text for a peer's protocol_version alert (70, RFC 8446 6.2).
var versionAlert = "remote error: " + tls.AlertError(70).Error()

// unsupportedVersion is crypto/tls's refusal of a server hello whose version the client did
// not offer, the version in hex.
var unsupportedVersion = regexp.MustCompile(`^tls: server selected unsupported protocol version [0-9a-f]{1,4}$`)

// markTLS adds ErrorInfo{Reason: ReasonCertificate} to a certificate failure and
// ErrorInfo{Reason: ReasonVersion} to a version mismatch.
func markTLS(err error) error {
	var reason string
	switch {
	case err == nil:
		return nil
	case IsCertificateFailure(err):
		reason = ReasonCertificate
	case IsVersionMismatch(err):
		reason = ReasonVersion
	default:
		return err
	}
	st, _ := status.FromError(err)
	marked, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: Domain})
	if derr != nil {
		return err
	}
	return marked.Err()
}

// MarkCertificateErrors returns dial options whose interceptors tag each attempt whose TLS
// handshake failed over the configuration of either side, which no retry changes: refused over
// a certificate, with the ErrorInfo reason ReasonCertificate, or finding no TLS version both
// sides speak, with ReasonVersion. A profile's classifier can then class them (the
// orchestrator classes both server_fault). Install them after (inside) the suite's, so that
// each attempt, not the call, is tagged. An attempt that reached a server (it has a peer) is
// not tagged, whatever its message: a refused handshake gives grpc-go no connection to send it
// on, and a server that relays its own upstream's failed handshake as it is ("connection
// error: desc = ... x509: ...") speaks of its backend's certificate.
func MarkCertificateErrors() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			var p peer.Peer
			err := invoker(ctx, method, req, reply, cc, append(opts[:len(opts):len(opts)], grpc.Peer(&p))...)
			if p.Addr != nil {
				return err // a server's answer
			}
			return markTLS(err)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			cs, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return nil, markTLS(err)
			}
			caller, _ := peer.FromContext(ctx)
			return &markedStream{ClientStream: cs, caller: caller}, nil
		}),
	}
}

// markedStream tags a certificate failure or a version mismatch that surfaces on the stream's first message, as
// grpc-go reports a refused handshake there for streams, unless the stream reached a server
// (its context has a peer of its own): then the status is the server's. A stream without a
// connection has the caller's context, whose peer, in a server handler, is the handler's
// caller.
type markedStream struct {
	grpc.ClientStream
	caller *peer.Peer // in the context the stream was opened with
}

func (s *markedStream) SendMsg(m any) error { return s.mark(s.ClientStream.SendMsg(m)) }
func (s *markedStream) RecvMsg(m any) error { return s.mark(s.ClientStream.RecvMsg(m)) }
func (s *markedStream) CloseSend() error    { return s.mark(s.ClientStream.CloseSend()) }

func (s *markedStream) mark(err error) error {
	if err == nil || !IsCertificateFailure(err) && !IsVersionMismatch(err) {
		return err
	}
	// Context is read only now, the stream having failed: grpc-go's commits its attempt.
	if p, ok := peer.FromContext(s.ClientStream.Context()); ok && p != s.caller {
		return err
	}
	return markTLS(err)
}
