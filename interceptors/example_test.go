package interceptors_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Protect a client of your own service: name the service in a configuration (here
// grpc.health.v1.Health stands for it, with a profile of its own), build the suite, and give
// its DialOptions to grpc.NewClient. The server below fails its first two calls with
// Unavailable; the suite retries them and the call succeeds on the third attempt.
func Example() {
	addr, stop := flakyServer(2)
	defer stop()

	cfg, _, err := config.Parse("client.yaml", []byte(`
profiles:
  mine:
    retry:
      max_attempts: 3
      initial_backoff: 10ms
      max_backoff: 20ms
      jitter: none
      per_attempt_timeout: 1s
      idempotent: true   # Check has no side effects; retry only methods that are safe to repeat
services:
  grpc.health.v1.Health: {profile: mine}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	suite, err := interceptors.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer suite.Close()
	conn, err := grpc.NewClient(addr, append(suite.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	var info retry.Info // optional: what the retry policy did for this call
	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}, retry.Report(&info))
	fmt.Println(resp.GetStatus(), err, "after", info.Attempts, "attempts")
	// Output:
	// SERVING <nil> after 3 attempts
}

// flakyServer serves the health service on a loopback port, failing the first n calls with
// Unavailable.
func flakyServer(n int64) (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var calls atomic.Int64
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if calls.Add(1) <= n {
			return nil, status.Error(grpccodes.Unavailable, "warming up")
		}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), srv.Stop
}
