// Command client shows bulwark protecting a client of your own service. It calls the standard
// gRPC health service, which stands for yours: give -addr the address of any server that
// serves grpc.health.v1.Health, or leave it empty to start a demo server in-process that fails
// its first two calls with Unavailable.
//
//	go run ./examples/client                 # demo server: the call succeeds on attempt 3
//	go run ./examples/client -addr HOST:PORT # your server
//
// The protection itself is the dozen lines of protect: a configuration naming your service,
// the suite built from it, and its DialOptions given to grpc.NewClient.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/flagrule"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// policy is the configuration: your service (by its full gRPC name) on a profile of its own,
// over the built-in profiles. Retries apply only to methods marked safe to repeat: by their
// descriptors (idempotency_level), or, as here, by idempotent: true, which marks every method
// of the service so (a health check is).
const policy = `
profiles:
  mine:
    retry: {max_attempts: 3, initial_backoff: 50ms, max_backoff: 200ms, per_attempt_timeout: 1s, idempotent: true}
    breaker: {consecutive_failures: 5, recovery_timeout: 10s}
    deadline: {default: 2s}
services:
  grpc.health.v1.Health: {profile: mine}
`

// protect dials addr through the bulwark suite. Close the suite after the connection.
func protect(addr string) (*grpc.ClientConn, *interceptors.Suite, error) {
	cfg, _, err := config.Parse("policy.yaml", []byte(policy))
	if err != nil {
		return nil, nil, err
	}
	suite, err := interceptors.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(addr, append(suite.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		_ = suite.Close()
		return nil, nil, &targetError{err}
	}
	return conn, suite, nil
}

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

// errUsage marks a command-line error, already reported on stderr in one line and a hint.
var errUsage = errors.New("usage error")

// targetError is grpc.NewClient's refusal of an address it cannot parse as a target: a
// problem with -addr, not with the server.
type targetError struct{ err error }

func (e *targetError) Error() string {
	return "want HOST:PORT or a gRPC target such as dns:///host:port (" + e.err.Error() + ")"
}

func (e *targetError) Unwrap() error { return e.err }

// usageError reports err, a problem with the command line, on stderr in one line and a hint.
func usageError(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "client: %v\nRun 'client -h' for the flags.\n", err)
	return fmt.Errorf("%w: %w", errUsage, err)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a bad flag gets one line and a hint, not the whole usage
	addr := fs.String("addr", "", "`address` of a server of grpc.health.v1.Health (default: an in-process demo server)")
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, "Usage of client:")
		fs.PrintDefaults()
		return err
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q: the address goes in -addr", fs.Arg(0))
	}
	if err == nil && *addr != "" {
		// A port no dial can reach (99999, 0) is the command line's fault: grpc would take it
		// and retry, then fail in its own words ("address 99999: invalid port").
		if problem := flagrule.DialPortProblem(*addr); problem != "" {
			err = fmt.Errorf("-addr %q: %s", *addr, problem)
		}
	}
	if err != nil {
		return usageError(stderr, err)
	}
	if *addr == "" {
		a, stop, err := demoServer(2)
		if err != nil {
			return err
		}
		defer stop()
		*addr = a
	}
	conn, suite, err := protect(*addr)
	if target := (*targetError)(nil); errors.As(err, &target) {
		return usageError(stderr, fmt.Errorf("-addr %q: %w", *addr, err))
	}
	if err != nil {
		return err
	}
	defer func() { _ = suite.Close() }()
	defer func() { _ = conn.Close() }()

	var info retry.Info
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, retry.Report(&info))
	if errors.Is(err, retry.ErrExhausted) {
		return err // its message ends "(after N attempts, reason)"
	}
	if err != nil {
		return fmt.Errorf("after %s: %w", attempts(info.Attempts), err)
	}
	fmt.Fprintf(stdout, "%s after %s\n", resp.GetStatus(), attempts(info.Attempts))
	return nil
}

// attempts is "1 attempt" or "N attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// demoServer serves the health service on a loopback port, failing its first n calls.
func demoServer(n int64) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var calls atomic.Int64
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if calls.Add(1) <= n {
			return nil, status.Error(grpccodes.Unavailable, "demo: warming up")
		}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), srv.Stop, nil
}
