package redislimit

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// hourly is one call an hour: no token comes back during a test, however slow the machine.
const hourly = 1.0 / 3600

// stallableLimiter returns a fail-closed limiter of one call an hour with a burst of 1 against
// srv, whose round trips and reads wait up to a minute (so that no stall of a busy machine
// times one out), with the channel its client signals each script call written on. Its
// connection is made and the step's script loaded, so that a later round trip against a
// stalled srv writes its EVALSHA at once and Redis runs it when resumed.
func stallableLimiter(t *testing.T, srv *server) (*Limiter, <-chan struct{}) {
	t.Helper()
	c, wrote := signalClient(t, srv.addr, time.Minute)
	l, err := NewWithClient("ocr", c, ratelimit.Config{Rate: hourly, Burst: 1,
		Redis: &ratelimit.RedisConfig{KeyPrefix: prefix(t), Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gcraScript.Load(context.Background(), c).Err(); err != nil {
		t.Fatal(err)
	}
	return l, wrote
}

// waitErr returns what the call sends on done, failing when it sends nothing within 30s.
func waitErr(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal(what + " did not return within 30s of its caller leaving (Redis timeout 1m)")
		return nil
	}
}

// waitRoundTrips returns once no goroutine of a round trip is left (the goroutines roundTrip
// starts, which end once the step and what follows it are done), failing after 30s.
func waitRoundTrips(t *testing.T) {
	t.Helper()
	const creator = "redislimit.(*Limiter).roundTrip in goroutine"
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if !strings.Contains(string(buf[:runtime.Stack(buf, true)]), creator) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a round trip's goroutine still runs 30s after Redis resumed")
		}
		time.Sleep(time.Millisecond)
	}
}

// Regression: a Take whose context is canceled, or a TakeConn whose ClientConn shuts down,
// while its round trip waits on a stalled Redis returns at once (context.Canceled,
// ratelimit.ErrConnClosing), and the round trip goes on; when Redis resumes and admits it, the
// token is nobody's. It used to stay taken, so that the bucket's one token was lost to a call
// that never ran (the next Take denied for an hour); it is given back in Redis.
func TestAbandonedTakeGivesTheTokenBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		// start begins the take on its own goroutine and returns how the caller leaves it.
		start func(t *testing.T, l *Limiter, done chan<- error) (leave func())
		want  error
	}{
		{"canceled context", func(t *testing.T, l *Limiter, done chan<- error) func() {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			go func() {
				_, err := l.Take(ctx, 0)
				done <- err
			}()
			return cancel
		}, context.Canceled},
		{"closed ClientConn", func(t *testing.T, l *Limiter, done chan<- error) func() {
			cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				_, err := l.TakeConn(context.Background(), cc, 0)
				done <- err
			}()
			return func() {
				if err := cc.Close(); err != nil {
					t.Error(err)
				}
			}
		}, ratelimit.ErrConnClosing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ownServer(t)
			l, wrote := stallableLimiter(t, srv)
			srv.stall()
			defer srv.resume()
			done := make(chan error, 1)
			leave := tc.start(t, l, done)
			waitWrite(t, wrote, "the take")
			leave()
			if err := waitErr(t, done, "the abandoned take"); !errors.Is(err, tc.want) {
				t.Fatalf("abandoned take = %v, want %v", err, tc.want)
			}
			srv.resume()
			waitRoundTrips(t)

			if d := take(t, l); !d.Allowed {
				t.Fatalf("Take after the abandoned one = %+v; want admitted: the abandoned caller's token given back", d)
			}
			if d := take(t, l); d.Allowed {
				t.Fatalf("a second Take = %+v; want denied: one token was given back, not more", d)
			}
		})
	}
}

// A token whose answer the caller received is the caller's, even when its context ends or its
// ClientConn shuts down as soon as it has it: nothing is given back, and the next Take is
// denied.
func TestReceivedTokenIsNotGivenBack(t *testing.T) {
	for _, viaConn := range []bool{false, true} {
		t.Run(map[bool]string{false: "canceled context", true: "closed ClientConn"}[viaConn], func(t *testing.T) {
			l := testLimiter(t, "ocr", config(sharedAddr(t), prefix(t), hourly, 1))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var d ratelimit.Decision
			var err error
			if viaConn {
				cc, cerr := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
				if cerr != nil {
					t.Fatal(cerr)
				}
				d, err = l.TakeConn(context.Background(), cc, 0)
				_ = cc.Close()
			} else {
				d, err = l.Take(ctx, 0)
				cancel()
			}
			if err != nil || !d.Allowed {
				t.Fatalf("first Take = %+v, %v; want admitted", d, err)
			}
			waitRoundTrips(t)
			if d := take(t, l); d.Allowed {
				t.Fatalf("Take after a received token = %+v; want denied: that token was the caller's", d)
			}
		})
	}
}

// Takes whose contexts are canceled at any moment of their round trips (before the command is
// written, while Redis runs it, as the answer arrives) take exactly the tokens their callers
// were told they have: a token is given back when, and only when, nobody received its answer.
// The rate is one call an hour and the burst above the Takes, so the TAT counts the tokens
// taken exactly.
func TestCanceledTakesKeepTheTokensReceived(t *testing.T) {
	const takes = 300
	cfg := config(sharedAddr(t), prefix(t), hourly, 2*takes)
	cfg.Redis.Timeout = time.Minute // no round trip times out, however busy the machine
	l := testLimiter(t, "ocr", cfg)
	rnd := rand.New(rand.NewPCG(1, 2))
	admitted, canceled := 0, 0
	for i := range takes {
		ctx, cancel := context.WithCancel(context.Background())
		stop := time.AfterFunc(time.Duration(rnd.IntN(300))*time.Microsecond, cancel)
		d, err := l.Take(ctx, 0)
		stop.Stop()
		cancel()
		switch {
		case err == nil && d.Allowed:
			admitted++
		case errors.Is(err, context.Canceled):
			canceled++
		default:
			t.Fatalf("Take %d = %+v, %v; want admitted or context.Canceled", i, d, err)
		}
	}
	waitRoundTrips(t)
	t.Logf("%d of %d Takes admitted, %d canceled", admitted, takes, canceled)

	taken := 0
	raw, err := l.client.Get(context.Background(), l.Key()).Result()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		t.Fatal(err)
	default:
		tat, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Fatal(err)
		}
		taken = int(math.Round((tat - redisNow(t, l)) * hourly))
	}
	if taken != admitted {
		t.Errorf("the bucket holds %d tokens taken, want the %d admitted (%d of %d Takes canceled)",
			taken, admitted, canceled, takes)
	}
}
