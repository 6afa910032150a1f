package hedge_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// act is what the stub does for one attempt of a call.
type act struct {
	wait int            // first block until attempt wait has reached the server (0: don't)
	hold bool           // then block until the test releases the stub
	hang bool           // then block until the attempt is canceled
	code grpccodes.Code // then answer: OK is a reply with Similarity attempt/10
}

// stub scripts each attempt of a call by its number, read from grpc-previous-rpc-attempts,
// and records which attempts reached it and which saw their context canceled.
type stub struct {
	acts    map[int]act
	release chan struct{}

	mu       sync.Mutex
	arrived  map[int]chan struct{} // Guarded by mu: closed when the attempt reaches the stub.
	finished map[int]chan struct{} // Guarded by mu: closed when the attempt's handler returns.
	canceled []int                 // Guarded by mu
	running  int                   // Guarded by mu: handlers not yet returned.
}

func newStub(acts map[int]act) *stub {
	return &stub{acts: acts, release: make(chan struct{}), arrived: map[int]chan struct{}{}, finished: map[int]chan struct{}{}}
}

// chanOf returns the channel of attempt n in m, made on first use. The caller holds s.mu.
func chanOf(m map[int]chan struct{}, n int) chan struct{} {
	ch, ok := m[n]
	if !ok {
		ch = make(chan struct{})
		m[n] = ch
	}
	return ch
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// answered waits until every attempt that has reached the stub and needs nothing more from
// the test (no hold, no hang, and the attempt it waits for, if any, has arrived) has returned
// its answer, so that releasing the held ones cannot overtake it: otherwise a loaded machine
// may schedule its handler only after the call is decided, and it sees a cancellation.
func (s *stub) answered(t *testing.T) {
	t.Helper()
	eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for n, a := range s.acts {
			if a.hold || a.hang || !isClosed(chanOf(s.arrived, n)) {
				continue
			}
			if a.wait > 0 && !isClosed(chanOf(s.arrived, a.wait)) {
				continue
			}
			if !isClosed(chanOf(s.finished, n)) {
				return false
			}
		}
		return true
	})
}

// releaseHeld waits until attempts 1 to n have reached the stub and every one that needs
// nothing more from the test has answered (answered), then releases the held ones. Waiting for
// the arrivals first lets answered see the arrival an attempt waits for: otherwise, on a loaded
// machine, a hedge still on its way makes answered skip the attempt that waits for it, the
// release lets the hedge win at once, and the waiting attempt is canceled before it answers.
func (s *stub) releaseHeld(t *testing.T, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		select {
		case <-s.arrival(i):
		case <-time.After(5 * time.Second):
			t.Fatalf("attempt %d did not reach the server within 5s", i)
		}
	}
	s.answered(t)
	close(s.release)
}

func (s *stub) arrival(n int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return chanOf(s.arrived, n)
}

// attemptOf reads the attempt number of an incoming call.
func attemptOf(ctx context.Context) int {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(hedge.PreviousAttemptsKey); len(v) == 1 {
		n, _ := strconv.Atoi(v[0])
		return n + 1
	}
	return 1
}

// handle runs the act of the incoming attempt and returns its code (OK or an error code).
func (s *stub) handle(ctx context.Context) (int, error) {
	n := attemptOf(ctx)
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		close(chanOf(s.finished, n))
		s.mu.Unlock()
	}()
	close(s.arrival(n))
	a := s.acts[n]
	canceled := func() (int, error) {
		s.mu.Lock()
		s.canceled = append(s.canceled, n)
		s.mu.Unlock()
		return n, status.FromContextError(ctx.Err()).Err()
	}
	if a.wait > 0 {
		select {
		case <-s.arrival(a.wait):
		case <-ctx.Done():
			return canceled()
		}
	}
	if a.hold {
		select {
		case <-s.release:
		case <-ctx.Done():
			return canceled()
		}
	}
	if a.hang {
		<-ctx.Done()
		return canceled()
	}
	if a.code != grpccodes.OK {
		return n, testkit.Status(a.code, "")
	}
	return n, nil
}

func (s *stub) compare(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	n, err := s.handle(ctx)
	if err != nil {
		return nil, err
	}
	return &kycv1.CompareResponse{Similarity: float32(n) / 10}, nil
}

func (s *stub) verify(ctx context.Context, _ int, req *kycv1.VerifyRequest) (*kycv1.VerifyResponse, error) {
	if _, err := s.handle(ctx); err != nil {
		return nil, err
	}
	return &kycv1.VerifyResponse{VerificationId: req.GetVerificationId()}, nil
}

// settle waits until every handler has returned, so that cancellations are all recorded.
func (s *stub) settle(t *testing.T) {
	t.Helper()
	eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.running == 0
	})
}

func (s *stub) canceledAttempts() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.canceled)
	slices.Sort(out)
	return out
}

// eventually polls cond for up to 5s (it normally holds within milliseconds).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// budget is a Budget with a number of tokens, counting what it was asked.
type budget struct {
	tokens atomic.Int64
	asked  atomic.Int64
}

func newBudget(tokens int) *budget {
	b := new(budget)
	b.tokens.Store(int64(tokens))
	return b
}

func (b *budget) Withdraw() bool {
	b.asked.Add(1)
	return b.tokens.Add(-1) >= 0
}

// setup is a policy on a fake clock starting at the real time (so that grpc accepts the
// deadlines it reads against the real clock), with a recorder.
type setup struct {
	clk *clocktest.Fake
	rec *testkit.Recorder
	p   *hedge.Policy
}

func newSetup(t *testing.T, cfg hedge.Config, opts ...hedge.Option) *setup {
	t.Helper()
	s := &setup{clk: clocktest.New(time.Now()), rec: &testkit.Recorder{}}
	opts = append([]hedge.Option{hedge.WithClock(s.clk), hedge.WithObserver(s.rec)}, opts...)
	p, err := hedge.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	return s
}

func (s *setup) dial(t *testing.T, srv *testkit.Server) *grpc.ClientConn {
	return srv.Dial(t, grpc.WithUnaryInterceptor(s.p.Unary()), grpc.WithStreamInterceptor(s.p.Stream()))
}

func (s *setup) reasons() []string {
	var out []string
	for _, e := range s.rec.Events(observe.HedgeSent) {
		out = append(out, e.Reason)
	}
	return out
}

// winner returns the attempt of the HedgeWon event, 0 when there is none.
func (s *setup) winner(t *testing.T) int {
	t.Helper()
	evs := s.rec.Events(observe.HedgeWon)
	switch len(evs) {
	case 0:
		return 0
	case 1:
		return evs[0].Attempt
	}
	t.Fatalf("%d HedgeWon events", len(evs))
	return 0
}
