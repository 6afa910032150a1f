package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/examples/internal/flagrule"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// depErrors remembers, per dependency, the last error an attempt that left the client got (a
// transport error such as "connection refused", or the service's own failure, by its code
// only: see clientDetail), so that the summary and the logs can name what a dependency
// answered. Business answers are not errors of the dependency and are not recorded, nor are
// local rejections, which never leave the client. It also counts, per dependency, the attempts
// sent to it on a connection (see sent). Safe for concurrent use.
type depErrors struct {
	log  *zap.Logger
	cl   func(fullMethod string) *codes.Classifier // the suite's, per method (see classifiers)
	mu   sync.Mutex
	last map[string]string // Guarded by mu: service key → "CODE[: grpc's message] (address)".
	// logged holds, per service key, the errors already logged (at most maxLoggedErrors).
	// Guarded by mu.
	logged map[string]map[string]bool
	addrs  map[string]string // read-only: service key → address
	// sentTo counts, per service key, the attempts that left the client on a connection to the
	// service: not those a policy refused or that ended before they were sent (a hedge still
	// waiting for a bulkhead slot when its call was answered), nor those that found no
	// connection ("connection refused"). Read-only map.
	sentTo map[string]*atomic.Int64
}

// maxLoggedErrors bounds the errors remembered as logged per dependency: grpc's own words may
// name a connection's ports, new with each connection. Past it the memory starts afresh, and an
// error seen before is logged again.
const maxLoggedErrors = 32

func newDepErrors(addrs map[string]string, cl func(string) *codes.Classifier, log *zap.Logger) *depErrors {
	sentTo := map[string]*atomic.Int64{}
	for _, k := range kyc.ServiceKeys {
		sentTo[k] = new(atomic.Int64)
	}
	return &depErrors{log: log, cl: cl, last: map[string]string{}, logged: map[string]map[string]bool{}, addrs: addrs, sentTo: sentTo}
}

// markSent counts an attempt on fullMethod sent to its service on a connection.
func (d *depErrors) markSent(fullMethod string) {
	svc, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if n := d.sentTo[kyc.ServiceKeys[svc]]; n != nil {
		n.Add(1)
	}
}

// sent returns, per service key, the attempts sent to the service on a connection: what
// reached an external service, as the client can count it.
func (d *depErrors) sent() map[string]int64 {
	out := make(map[string]int64, len(d.sentTo))
	for k, n := range d.sentTo {
		out[k] = n.Load()
	}
	return out
}

// record notes err from an attempt on fullMethod, which reached a server (got a stream on a
// connection: it has a peer) or not (see clientDetail); a message is logged at warn the first
// time the dependency answers with it, so a dependency that keeps failing the same ways
// (Unavailable and ResourceExhausted in turn) logs a line for each, not one per change.
func (d *depErrors) record(fullMethod string, err error, reached bool) {
	if err == nil {
		return
	}
	v := d.cl(fullMethod).Classify(err)
	// A Rejected verdict here is the dependency's own bulwark refusing (its ErrorInfo crossed
	// the wire): the interceptors are innermost, and the suite's local rejections never
	// reach them. It is an error the dependency answered with, and is recorded.
	if v.Class == codes.Business || v.Class == codes.Canceled {
		return
	}
	svc := strings.TrimPrefix(fullMethod, "/")
	svc, _, _ = strings.Cut(svc, "/")
	key := kyc.ServiceKeys[svc]
	if key == "" {
		return
	}
	code, detail := kyc.CodeName(v.Code), clientDetail(err, reached)
	if !ownSockets(detail, d.addrs[key]) {
		detail = ""
	}
	msg := fmt.Sprintf("%s (%s)", code, d.addrs[key])
	if detail != "" {
		msg = fmt.Sprintf("%s: %s (%s)", code, detail, d.addrs[key])
	}
	d.mu.Lock()
	d.last[key] = msg
	seen := d.logged[key]
	isNew := !seen[msg]
	if isNew {
		if seen == nil || len(seen) >= maxLoggedErrors {
			seen = map[string]bool{}
			d.logged[key] = seen
		}
		seen[msg] = true
	}
	d.mu.Unlock()
	if isNew {
		fields := []zap.Field{zap.String("dependency", key), zap.String("addr", d.addrs[key]), zap.String("code", code)}
		if detail != "" {
			fields = append(fields, zap.String("error", detail))
		}
		d.log.Warn("dependency error", fields...)
	}
}

// clientDetail returns what of err's status message the logs and the summary may carry: grpc's
// own words for a request that never reached a server ("connection refused"), else nothing.
// A server's message is its own text and may quote the request (a name on a document, a
// document number): only its code is shown. grpc-go gives its words for a connection it could
// not make, or a name it could not resolve, only to an attempt that got no stream, so on an
// attempt that reached a server (reached: it has a peer) those shapes are the server's; what
// such an attempt keeps is the words of a connection lost under it (see reachedWords).
func clientDetail(err error, reached bool) string {
	msg := status.Convert(err).Message()
	if reached {
		if reachedWords(msg) {
			return msg
		}
		return ""
	}
	if tlsflags.IsRefusal(msg) || grpcWords(msg) {
		return msg
	}
	return ""
}

// ownSockets reports whether each unix socket that detail, grpc's words (see clientDetail),
// names is the dependency's, dialled at addr ("unix:/run/ocr.sock", "unix:///run/ocr.sock",
// "unix-abstract:ocr"), named as a transport's I/O error names it, after the client's unnamed
// socket ("write unix @->/run/ocr.sock: ...": Linux's "@", or nothing). A TCP connection's
// addresses in that shape are an IP and a port (tlsflags.IsTransportIO); a socket's path is
// any text, and a server's own message in grpc's shape with other words where the path stands
// (the applicant's name) is the server's.
func ownSockets(detail, addr string) bool {
	sock := socketOf(addr)
	for _, op := range []string{"read unix ", "write unix "} {
		for rest := detail; ; {
			i := strings.Index(rest, op)
			if i < 0 {
				break
			}
			rest = rest[i+len(op):]
			if sock == "" || !strings.HasPrefix(strings.TrimPrefix(rest, "@"), "->"+sock+": ") {
				return false
			}
		}
	}
	return true
}

// socketOf returns the unix socket address that grpc-go dials for addr, a target of its unix
// or unix-abstract resolver ("@" and the name, for an abstract one), or "" for another target.
func socketOf(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return ""
	}
	path := u.Path
	if path == "" {
		path = u.Opaque
	}
	switch {
	case path == "" || u.Host != "":
		return ""
	case u.Scheme == "unix":
		return path
	case u.Scheme == "unix-abstract":
		return "@" + path
	}
	return ""
}

// reachedWords reports whether msg is, whole, what grpc-go gives an attempt whose connection
// was lost or closed under its stream: the transport's I/O error, the -tls connections' refused
// certificate (a TLS 1.3 server refuses it once the client's side of the handshake is over, so
// a stream may have begun), or the closing of the connection, bare or as the ConnectionError
// grpc-go closes its streams with.
func reachedWords(msg string) bool {
	return msg == "transport is closing" || msg == `connection error: desc = "transport is closing"` || tlsflags.IsTransportIO(msg) || tlsflags.IsRefusal(msg)
}

// grpcWords reports whether msg is, whole, one of the status messages grpc-go writes itself
// when a request could not reach a server: a connection that could not be made
// (`connection error: desc = "transport: ..."`) or whose server preface did not come
// (`connection error: desc = "error reading server preface: EOF"`), a name that did not resolve ("name resolver
// error: produced zero addresses"), or a connection lost under it, whose transport's own I/O
// error grpc-go gives as it is ("write tcp A->B: write: broken pipe"). A client whose
// certificate the server refuses under TLS 1.3 reads that as often as not, which the -tls
// connections give with the server's alert first ("remote error: tls: certificate required
// (write tcp ...)"): clientDetail keeps that shape alone (tlsflags.IsRefusal), as a service's
// own Unavailable may begin with an alert too. Each shape is matched to its end, not by its
// start: a server's own message that merely begins as one of these ("name resolver error: no
// entry for <a name>") is the server's text.
func grpcWords(msg string) bool {
	switch {
	case msg == "transport is closing", msg == "produced zero addresses", isConnectionError(msg), tlsflags.IsTransportIO(msg):
		return true
	}
	if rest, ok := strings.CutPrefix(msg, "name resolver error: "); ok {
		return isResolverError(rest)
	}
	if rest, ok := strings.CutPrefix(msg, "last resolver error: "); ok {
		return isResolverError(rest)
	}
	if rest, ok := strings.CutPrefix(msg, "last connection error: "); ok {
		conn, res, both := strings.Cut(rest, "; last resolver error: ")
		return isConnectionError(conn) && (!both || isResolverError(res))
	}
	return false
}

// isConnectionError reports whether msg is a grpc-go transport ConnectionError's text:
// `connection error: desc = ` then its description, quoted, which grpc-go's own begin with
// "transport", or, for a connection whose server did not open HTTP/2, are "error reading
// server preface: " and what the read met (see isPrefaceError).
func isConnectionError(msg string) bool {
	q, ok := strings.CutPrefix(msg, "connection error: desc = ")
	if !ok {
		return false
	}
	desc, err := strconv.Unquote(q)
	if err != nil || strconv.Quote(desc) != q {
		return false
	}
	if strings.HasPrefix(desc, "transport") {
		return true
	}
	read, ok := strings.CutPrefix(desc, "error reading server preface: ")
	return ok && isPrefaceError(read)
}

// isPrefaceError reports whether msg is what grpc-go's read of the server preface can meet:
// the connection's end ("EOF", or "connection reset by peer" when the server closed before
// reading all it was sent: a plaintext client of a TLS server), a transport's I/O error, whole
// or its system's words alone, or the TLS alert a server sent (crypto/tls's words, "remote
// error: tls: certificate required": a TLS 1.3 server refusing the client's certificate).
func isPrefaceError(msg string) bool {
	return msg == io.EOF.Error() || msg == io.ErrUnexpectedEOF.Error() || tlsflags.IsSystemError(msg) || tlsflags.IsTransportIO(msg) || tlsflags.IsAlert(msg)
}

// isResolverError reports whether msg is an error of grpc-go's own resolvers or balancers
// about a name: no address at all, or its DNS resolver's lookup failure.
func isResolverError(msg string) bool {
	return msg == "produced zero addresses" || dnsLookupError.MatchString(msg)
}

// dnsLookupError is grpc-go's DNS resolver's failed lookup: "dns: A record lookup error:
// lookup HOST on SERVER: no such host".
var dnsLookupError = regexp.MustCompile(`^dns: (A|SRV|TXT) record lookup error: lookup \S+( on \S+)?: [a-z][a-z /]*$`)

// snapshot returns the last error per service key.
func (d *depErrors) snapshot() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]string, len(d.last))
	for k, v := range d.last {
		out[k] = v
	}
	return out
}

// dialOptions are the innermost interceptors of every connection: they see each attempt that
// a policy let through, and nothing the suite refused locally. An attempt that got a stream on
// a connection (a unary one with a peer, a stream that opened) is counted sent.
func (d *depErrors) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
			invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			var p peer.Peer
			err := invoker(ctx, method, req, reply, cc, append(opts[:len(opts):len(opts)], grpc.Peer(&p))...)
			if p.Addr != nil {
				d.markSent(method)
			}
			d.record(method, err, p.Addr != nil)
			return err
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
			streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				d.record(method, err, false) // no stream: no server reached
				return nil, err
			}
			d.markSent(method)
			caller, _ := peer.FromContext(ctx)
			return &recordingStream{ClientStream: s, d: d, method: method, caller: caller}, nil
		}),
	}
}

// recordingStream records the error that ends a stream.
type recordingStream struct {
	grpc.ClientStream
	d      *depErrors
	method string
	caller *peer.Peer // in the context the stream was opened with (a server handler's caller)
}

func (s *recordingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && err != io.EOF {
		// The stream reached a server when its context has a peer of its own, not the
		// caller's: Context is read only now, the stream having ended.
		p, ok := peer.FromContext(s.ClientStream.Context())
		s.d.record(s.method, err, ok && p != s.caller)
	}
	return err
}

// checkReachable tries a TCP connection to each external dependency given as host:port and
// warns on stderr about any that cannot be reached: a wrong address should be named at once,
// not found out from a summary of failures. It does not stop the command (the dependency may
// come up later).
func checkReachable(ctx context.Context, external map[string]string, stderr io.Writer) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, svc := range []string{kyc.KeyLiveness, kyc.KeyFaceMatch, kyc.KeyOCR} {
		addr, ok := external[svc]
		if !ok {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil || strings.Contains(addr, "://") || flagrule.HasScheme(addr) {
			continue // a gRPC target such as dns:///host:port or unix:/path: leave it to the resolver
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			c, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
			if err != nil {
				mu.Lock()
				fmt.Fprintf(stderr, "orchestrator: warning: %s at %s cannot be reached: %v\n", svc, addr, err)
				mu.Unlock()
				return
			}
			_ = c.Close()
		}()
	}
	wg.Wait()
}

// classifiers returns the classifier of each full method as the suite's policies have it (so
// that the verifier and the dependency errors class an error as the retry and breaker
// policies do), read once per method; codes.Default for a method whose classifier cannot be
// built (the suite refuses its calls then).
func classifiers(suite *interceptors.Suite) func(fullMethod string) *codes.Classifier {
	var mu sync.Mutex
	known := map[string]*codes.Classifier{}
	return func(fullMethod string) *codes.Classifier {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := known[fullMethod]; ok {
			return c
		}
		c, err := suite.Policy(fullMethod).NewClassifier()
		if err != nil {
			c = codes.Default()
		}
		known[fullMethod] = c
		return c
	}
}
