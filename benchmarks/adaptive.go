package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// KneeServer serves FaceMatchService.Compare over bufconn with a latency that grows with its
// concurrency past a knee, like a GPU-bound model server: a request that arrives with n
// requests in flight (its own included) takes Base·max(1, n/Knee). Throughput plateaus at
// Knee/Base requests per second and, past it, requests queue. A request the client gave up on
// is still served to the end, as a model server does not stop a batch for one caller: that
// work is wasted, and it is what makes an overloaded service collapse.
type KneeServer struct {
	kycv1.UnimplementedFaceMatchServiceServer

	Knee int
	Base time.Duration

	inFlight atomic.Int64
	peak     atomic.Int64
	served   atomic.Int64
	stop     chan struct{}
	lis      *bufconn.Listener
	srv      *grpc.Server
	// hold, when a test stores a gate here, keeps each request that arrives (counted in
	// inFlight, its latency already set by its arrival) from starting its latency until the
	// gate closes: the way a test has requests in the server together however slowly the
	// machine starts them.
	hold atomic.Pointer[chan struct{}]
}

// StartKneeServer serves a new KneeServer. Stop it when done.
func StartKneeServer(knee int, base time.Duration) *KneeServer {
	s := &KneeServer{Knee: knee, Base: base, stop: make(chan struct{}), lis: bufconn.Listen(1 << 20), srv: grpc.NewServer()}
	kycv1.RegisterFaceMatchServiceServer(s.srv, s)
	go func() { _ = s.srv.Serve(s.lis) }()
	return s
}

// Compare implements kycv1.FaceMatchServiceServer.
func (s *KneeServer) Compare(context.Context, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	d := time.Duration(float64(s.Base) * max(1, float64(n)/float64(s.Knee)))
	if h := s.hold.Load(); h != nil {
		select {
		case <-*h:
		case <-s.stop:
			return nil, status.Error(grpccodes.Unavailable, "stopping")
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		s.served.Add(1)
		return compareReply, nil
	case <-s.stop:
		return nil, status.Error(grpccodes.Unavailable, "stopping")
	}
}

// Dial returns a client connection to s through opts. The caller closes it.
func (s *KneeServer) Dial(opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	return grpc.NewClient("passthrough:///knee", opts...)
}

// Stop ends every request in progress and stops the server.
func (s *KneeServer) Stop() {
	close(s.stop)
	s.srv.Stop()
	_ = s.lis.Close()
}

// Load is a closed-loop load: Clients goroutines each call Compare in a loop, each call with
// its own Deadline, for Duration after a Warmup that is not counted. A caller refused by the
// bulkhead pauses RejectPause before its next call (it would hand the error to its own caller
// and take the next job; the pause keeps 64 goroutines from spinning on the CPUs the server
// needs).
type Load struct {
	Knee        int
	Base        time.Duration
	Clients     int
	Deadline    time.Duration
	Warmup      time.Duration
	Duration    time.Duration
	RejectPause time.Duration
	// Cold leaves the connection to be made by the first calls, whose latency then includes
	// setting it up; by default it is made before the load starts, as in a client that has
	// been running.
	Cold bool
}

// DefaultLoad is the load of benchmarks/results/adaptive.md: 64 callers with a 50 ms deadline
// against a service with knee 8 and base 8 ms (1000 calls/s at most; 64 in flight take 64 ms,
// past the deadline).
var DefaultLoad = Load{Knee: 8, Base: 8 * time.Millisecond, Clients: 64, Deadline: 50 * time.Millisecond,
	Warmup: time.Second, Duration: 4 * time.Second, RejectPause: time.Millisecond}

// LimitVariant is one way of calling the knee server: no bulkhead (Config nil) or a bulkhead.
type LimitVariant struct {
	Name   string
	Config *bulkhead.Config
}

// LimitVariants returns the variants compared for a load: no bulkhead; a fixed limit of 64,
// fail fast; AIMD with a latency threshold of 1.5·base; AIMD that only sees failures (here,
// calls past their deadline); the gradient. The adaptive ones have MaxConcurrent 64 and the
// defaults otherwise.
func LimitVariants(l Load) []LimitVariant {
	adaptive := func(a bulkhead.Adaptive) *bulkhead.Config {
		return &bulkhead.Config{MaxConcurrent: 64, Adaptive: a}
	}
	return []LimitVariant{
		{Name: "raw (no bulkhead)"},
		{Name: "fixed 64, fail fast", Config: &bulkhead.Config{MaxConcurrent: 64}},
		{Name: "aimd, threshold 1.5·base", Config: adaptive(bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, LatencyThreshold: l.Base * 3 / 2})},
		{Name: "aimd, failures only", Config: adaptive(bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD})},
		{Name: "gradient", Config: adaptive(bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient})},
	}
}

// LimitResult is what one variant measured after the warmup.
type LimitResult struct {
	Variant                         string
	Attempts, OK, Rejected, Expired int64
	Other                           int64
	Elapsed                         time.Duration
	P50, P99                        time.Duration // of successful calls
	MeanLimit, FinalLimit           float64       // 0 without an adaptive bulkhead; the mean is sampled every 10 ms
	ServerPeak                      int64         // most requests the server had at once, warmup included
}

// Goodput returns successful calls per second.
func (r LimitResult) Goodput() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// Share returns n as a share of the attempts.
func (r LimitResult) Share(n int64) float64 {
	if r.Attempts == 0 {
		return 0
	}
	return float64(n) / float64(r.Attempts)
}

// RunLimit runs load l against a fresh knee server through variant v.
func RunLimit(ctx context.Context, l Load, v LimitVariant) (LimitResult, error) {
	srv := StartKneeServer(l.Knee, l.Base)
	defer srv.Stop()
	var opts []grpc.DialOption
	var bh *bulkhead.Bulkhead
	if v.Config != nil {
		var err error
		if bh, err = bulkhead.New(ServiceFaceMatch, *v.Config); err != nil {
			return LimitResult{}, err
		}
		opts = append(opts, grpc.WithUnaryInterceptor(bh.Unary()))
	}
	cc, err := srv.Dial(opts...)
	if err != nil {
		return LimitResult{}, err
	}
	defer func() { _ = cc.Close() }()
	if !l.Cold {
		if err := connect(ctx, cc); err != nil {
			return LimitResult{}, err
		}
	}
	client := kycv1.NewFaceMatchServiceClient(cc)

	var (
		counting           atomic.Bool
		attempts, ok, rej  atomic.Int64
		expired, other     atomic.Int64
		mu                 sync.Mutex
		latencies          []time.Duration
		limitSum, limitCnt float64
	)
	// The run ends by cancellation, not a deadline: the calls cut short end Canceled, which is
	// no sample, instead of past a deadline, which would back the limits off.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := time.AfterFunc(l.Warmup+l.Duration, cancel)
	defer stop.Stop()
	var wg sync.WaitGroup
	for range l.Clients {
		wg.Go(func() {
			var mine []time.Duration
			req := &kycv1.CompareRequest{}
			for runCtx.Err() == nil {
				callCtx, callCancel := context.WithTimeout(runCtx, l.Deadline)
				start := time.Now()
				_, err := client.Compare(callCtx, req)
				took := time.Since(start)
				callCancel()
				if runCtx.Err() != nil {
					break // the run ended during the call: not counted
				}
				count := counting.Load()
				if count {
					attempts.Add(1)
				}
				switch {
				case err == nil:
					if count {
						ok.Add(1)
						mine = append(mine, took)
					}
				case errors.Is(err, bulkhead.ErrFull):
					if count {
						rej.Add(1)
					}
					time.Sleep(l.RejectPause)
				case status.Code(err) == grpccodes.DeadlineExceeded:
					if count {
						expired.Add(1)
					}
				default:
					if count {
						other.Add(1)
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	if bh != nil {
		wg.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-tick.C:
					if counting.Load() {
						limitSum += float64(bh.Capacity())
						limitCnt++
					}
				}
			}
		})
	}
	select {
	case <-time.After(l.Warmup):
	case <-runCtx.Done():
	}
	counting.Store(true)
	began := time.Now()
	<-runCtx.Done()
	elapsed := time.Since(began)
	finalLimit := 0
	if bh != nil {
		finalLimit = bh.Capacity()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return LimitResult{}, err
	}
	r := LimitResult{
		Variant: v.Name, Attempts: attempts.Load(), OK: ok.Load(), Rejected: rej.Load(),
		Expired: expired.Load(), Other: other.Load(), Elapsed: elapsed, ServerPeak: srv.peak.Load(),
	}
	slices.Sort(latencies)
	r.P50, r.P99 = quantile(latencies, 0.5), quantile(latencies, 0.99)
	if bh != nil && v.Config.Adaptive.Algorithm != bulkhead.AlgorithmNone {
		r.FinalLimit = float64(finalLimit)
		if limitCnt > 0 {
			r.MeanLimit = limitSum / limitCnt
		}
	}
	return r, nil
}

// connect establishes cc's connection, without a call.
func connect(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc.Connect()
	for st := cc.GetState(); st != connectivity.Ready; st = cc.GetState() {
		if !cc.WaitForStateChange(ctx, st) {
			return fmt.Errorf("benchmarks: connection not ready: %v", st)
		}
	}
	return nil
}

// quantile returns the q-quantile of sorted (nearest rank), 0 if empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// LimitTable formats results as a markdown table.
func LimitTable(rs []LimitResult) string {
	out := "| variant | goodput (OK/s) | p50 OK | p99 OK | rejected | deadline exceeded | other errors | limit mean / final | server peak in flight |\n" +
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	for _, r := range rs {
		limit := "–"
		if r.FinalLimit > 0 {
			limit = fmt.Sprintf("%.1f / %.0f", r.MeanLimit, r.FinalLimit)
		}
		out += fmt.Sprintf("| %s | %.0f | %s | %s | %.1f %% | %.1f %% | %.1f %% | %s | %d |\n", r.Variant, r.Goodput(),
			ms(r.P50), ms(r.P99), 100*r.Share(r.Rejected), 100*r.Share(r.Expired), 100*r.Share(r.Other), limit, r.ServerPeak)
	}
	return out
}
