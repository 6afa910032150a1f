package redislimit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// quiet drops go-redis's log lines (failed dials while a test has stopped Redis).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// After PoolSize failed dials go-redis starts a goroutine that probes the address once
		// a second until a dial succeeds; it sees the pool closed and returns within a second
		// of Close. Only the tests that stop Redis start it.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
		goleak.Cleanup(func(code int) {
			stopShared()
			os.Exit(code)
		}),
	)
}

// redisBinary returns the redis-server to start: BULWARK_REDIS_SERVER, else the one on PATH,
// else "".
func redisBinary() string {
	if b := os.Getenv("BULWARK_REDIS_SERVER"); b != "" {
		if _, err := os.Stat(b); err == nil {
			return b
		}
	}
	if b, err := exec.LookPath("redis-server"); err == nil {
		return b
	}
	return ""
}

const noRedis = "no Redis: set BULWARK_REDIS_ADDR to a running server, or BULWARK_REDIS_SERVER " +
	"(or PATH) to a redis-server binary"

var shared struct {
	once sync.Once
	srv  *server
	err  error
}

// sharedAddr returns the address of the Redis every test may share: BULWARK_REDIS_ADDR when
// set, else a redis-server this package starts once and stops at the end. Tests sharing it
// use distinct keys (see prefix).
func sharedAddr(tb testing.TB) string {
	tb.Helper()
	if a := os.Getenv("BULWARK_REDIS_ADDR"); a != "" {
		return a
	}
	bin := redisBinary()
	if bin == "" {
		tb.Skip(noRedis)
	}
	shared.once.Do(func() { shared.srv, shared.err = launch(bin) })
	if shared.err != nil {
		tb.Fatalf("starting redis-server: %v", shared.err)
	}
	return shared.srv.addr
}

func stopShared() {
	if shared.srv != nil {
		shared.srv.kill()
	}
}

// server is a redis-server process on a loopback port that one test controls: it may be
// killed, stalled and started again on the same port.
type server struct {
	bin  string
	port int
	addr string
	cmd  *exec.Cmd
}

// ownServer starts a redis-server for one test, stopped when the test ends.
func ownServer(tb testing.TB) *server {
	tb.Helper()
	bin := redisBinary()
	if bin == "" {
		tb.Skip(noRedis)
	}
	s, err := launch(bin)
	if err != nil {
		tb.Fatalf("starting redis-server: %v", err)
	}
	tb.Cleanup(s.kill)
	return s
}

// launch starts redis-server on a free loopback port.
func launch(bin string) (*server, error) {
	var err error
	for range 5 {
		var port int
		if port, err = freePort(); err != nil {
			continue
		}
		s := &server{bin: bin, port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs the server on s.port and waits until it answers PING.
func (s *server) start() error {
	s.cmd = exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
		"--enable-debug-command", "local") // DEBUG SLEEP makes Redis slow (TestRedisOutageStress)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := ping(s.addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on %s did not answer: %w", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("unexpected answer " + strings.TrimSpace(line))
	}
	return nil
}

// kill stops the server for good (it may be started again with start).
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// stall freezes the server (SIGSTOP): connections are accepted by the kernel but nothing is
// answered, as with an overloaded or partitioned Redis. resume undoes it.
func (s *server) stall() {
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		panic(err)
	}
}

func (s *server) resume() {
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		panic(err)
	}
}

// prefix returns a key prefix no other test (or run) uses.
func prefix(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "bulwark-test:" + strings.ReplaceAll(tb.Name(), "/", ":") + ":" + hex.EncodeToString(b[:]) + ":"
}
