package ratelimit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestWaitEndsAtConnClose: a call (or a stream's open) waiting for its token (the next one
// an hour away, MaxWait two, on a fake clock nothing advances) when its ClientConn shuts down
// returns at once, Canceled with the words of a closing ClientConn and of the wait for a
// token, not a RATE_LIMITED rejection (no Rejected event): the token it had reserved is given
// back. It used to wait out its whole wait.
func TestWaitEndsAtConnClose(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "unary", true: "stream"}[stream], func(t *testing.T) {
			clk := clocktest.New(time.Now())
			rec := &testkit.Recorder{}
			lim := ratelimit.NewLocal(1.0/3600, 1, ratelimit.WithClock(clk))
			p, err := ratelimit.New("kyc.v1.FaceMatchService", lim, ratelimit.Config{MaxWait: 2 * time.Hour},
				ratelimit.WithClock(clk), ratelimit.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			srv := testkit.Start(t, &testkit.Server{})
			cc := srv.Dial(t, grpc.WithUnaryInterceptor(p.Unary()), grpc.WithStreamInterceptor(p.Stream()))
			if d, err := lim.Take(context.Background(), 0); err != nil || !d.Allowed { // the one token, spent elsewhere
				t.Fatalf("Take = %+v, %v, want the bucket's token", d, err)
			}
			call := testkit.ConnWait{
				What: "the call waiting for a token", Over: "its 1h wait was over",
				Call:   testkit.CompareOrCheck(context.Background(), cc, stream),
				Parked: func() { clk.BlockUntil(1) }, // waiting for its token, on the token's timer
				Unpark: func() { clk.Advance(3 * time.Hour) },
			}.Start()
			if got := lim.Tokens(); got != -1 {
				t.Fatalf("Tokens = %v while the call waits, want -1 (its token reserved)", got)
			}
			err = call.CloseConn(t, cc)
			if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") ||
				!strings.Contains(status.Convert(err).Message(), "token") {
				t.Fatalf("err = %v, want Canceled, the client connection is closing during the wait for a token", err)
			}
			if n := rec.Count(observe.Rejected); n != 0 {
				t.Errorf("%d Rejected events, want none: nothing was refused", n)
			}
			if got := lim.Tokens(); got != 0 {
				t.Errorf("Tokens = %v after the wait ended, want 0 (the reserved token given back)", got)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers left on the fake clock, want 0", n)
			}
		})
	}
}

// connLimiter is a fleet-wide limiter (a ratelimit.ConnLimiter) whose every take waits for a
// token that never comes: Take until its context ends, TakeConn until then or until its
// ClientConn shuts down (ratelimit.ConnDone).
type connLimiter struct {
	waiting chan struct{} // closed once a take waits
	conns   []*grpc.ClientConn
}

func (l *connLimiter) Take(ctx context.Context, _ time.Duration) (ratelimit.Decision, error) {
	close(l.waiting)
	<-ctx.Done()
	return ratelimit.Decision{}, ctx.Err()
}

func (l *connLimiter) TakeConn(ctx context.Context, cc *grpc.ClientConn, _ time.Duration) (ratelimit.Decision, error) {
	l.conns = append(l.conns, cc)
	close(l.waiting)
	select {
	case <-ctx.Done():
		return ratelimit.Decision{}, ctx.Err()
	case <-ratelimit.ConnDone(cc):
		return ratelimit.Decision{}, ratelimit.ErrConnClosing
	}
}

// TestConnLimiterWaitEndsAtConnClose: a Policy over a limiter that is a ConnLimiter (a
// fleet-wide one, redislimit's) takes a call's (or a stream's open's) token with TakeConn,
// given the call's ClientConn: a call waiting for its token when its ClientConn shuts down
// returns at once, Canceled with the rate limiter's words of a closing ClientConn, and no
// Rejected event. It used to take it with Take, given no ClientConn, and wait on.
func TestConnLimiterWaitEndsAtConnClose(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "unary", true: "stream"}[stream], func(t *testing.T) {
			rec := &testkit.Recorder{}
			lim := &connLimiter{waiting: make(chan struct{})}
			p, err := ratelimit.New("kyc.v1.FaceMatchService", lim, ratelimit.Config{MaxWait: time.Hour}, ratelimit.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			srv := testkit.Start(t, &testkit.Server{})
			cc := srv.Dial(t, grpc.WithUnaryInterceptor(p.Unary()), grpc.WithStreamInterceptor(p.Stream()))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err = testkit.ConnWait{
				What: "the call waiting for a fleet-wide token", Over: "its context was canceled",
				Call:   testkit.CompareOrCheck(ctx, cc, stream),
				Parked: func() { within.Recv(t, lim.waiting, "the call did not start waiting for its token") },
				Unpark: cancel,
			}.Start().CloseConn(t, cc)
			const want = "ratelimit: the client connection is closing (ClientConn.Close during the wait for a token)"
			if status.Code(err) != grpccodes.Canceled || status.Convert(err).Message() != want {
				t.Fatalf("err = %v, want Canceled, %q", err, want)
			}
			if len(lim.conns) != 1 || lim.conns[0] != cc {
				t.Errorf("TakeConn given %v, want the call's ClientConn once", lim.conns)
			}
			if n := rec.Count(observe.Rejected); n != 0 {
				t.Errorf("%d Rejected events, want none: nothing was refused", n)
			}
		})
	}
}
