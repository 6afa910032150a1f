package redislimit

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// evalWrites is a net.Conn that signals each write of a script call (EVALSHA) once the
// kernel has taken it: the command is then Redis's to run, whatever the client does next.
type evalWrites struct {
	net.Conn
	wrote chan<- struct{}
}

func (c evalWrites) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil && bytes.Contains(bytes.ToLower(b), []byte("evalsha")) {
		select {
		case c.wrote <- struct{}{}:
		default:
		}
	}
	return n, err
}

// signalClient returns a client of addr tuned as New's is (no command retries, one dial
// attempt, every wait bounded by timeout), closed when the test ends, whose connections
// signal on the returned channel each script call they write. Up to 16 signals nobody waited
// for are kept.
func signalClient(tb testing.TB, addr string, timeout time.Duration) (*redis.Client, <-chan struct{}) {
	tb.Helper()
	wrote := make(chan struct{}, 16)
	c := redis.NewClient(&redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return evalWrites{conn, wrote}, nil
		},
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c, wrote
}

// waitWrite returns once what has written its script call.
func waitWrite(t *testing.T, wrote <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-wrote:
	case <-time.After(30 * time.Second):
		t.Fatal(what + " never wrote its script call")
	}
}
