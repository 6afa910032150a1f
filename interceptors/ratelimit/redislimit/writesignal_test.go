package redislimit

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
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
// for are kept: drain them before waiting for a given call's (see waitWrite).
func signalClient(tb testing.TB, addr string, timeout time.Duration) (*redis.Client, <-chan struct{}) {
	tb.Helper()
	wrote := make(chan struct{}, 16)
	o := dialOptions(addr, timeout)
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return evalWrites{conn, wrote}, nil
	}
	c := redis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c, wrote
}

// signalLimiter returns a limiter of "ocr" built by NewWithClient with cfg and opts on a
// signalClient of cfg.Redis.Addr whose waits are bounded by cfg.Redis.Timeout, and the
// client's channel of script calls written. Its key is deleted when the test ends.
func signalLimiter(t *testing.T, cfg ratelimit.Config, opts ...Option) (*Limiter, <-chan struct{}) {
	t.Helper()
	c, wrote := signalClient(t, cfg.Redis.Addr, cfg.Redis.Timeout)
	l, err := NewWithClient("ocr", c, cfg, opts...)
	if err != nil {
		t.Fatalf("NewWithClient: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = c.Del(ctx, l.Key()).Err() // leave nothing on a shared server
	})
	return l, wrote
}

// drain drops the signals of the script calls written so far.
func drain(wrote <-chan struct{}) {
	for {
		select {
		case <-wrote:
		default:
			return
		}
	}
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

// takeInFlight starts l.Take(ctx, 0) and returns once the Take has written its script call to
// Redis (a signal on wrote, l's signalClient's channel; earlier ones are drained first), with
// the channel that gets Take's error. what names the Take in the failure when it writes none
// within 30s.
func takeInFlight(t *testing.T, ctx context.Context, l *Limiter, wrote <-chan struct{}, what string) <-chan error {
	t.Helper()
	drain(wrote)
	done := make(chan error, 1)
	go func() {
		_, err := l.Take(ctx, 0)
		done <- err
	}()
	waitWrite(t, wrote, what)
	return done
}
