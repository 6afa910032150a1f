package interceptors_test

import (
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// TestStreamAllocs pins what a stream costs through a suite with an observer and a deadline,
// over a fake ClientStream, from open to its end: the layers that hold a value for the stream
// anyway (the suite's observedStream, its attempt's runner, the retry's stream) and the
// deadline's cancel func register with streamend.OnEndOf, with no closure or method value of
// their own (one allocation each, before); so does a fixed-limit bulkhead.
func TestStreamAllocs(t *testing.T) {
	br := func() *breaker.Config { return &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour} }
	for _, tt := range []struct {
		name    string
		profile config.Profile
		// want is the most allocations a stream may cost (34 and 61 when those layers
		// each built a func; 34 for the third when its bulkhead did too; 30, 58 and 33
		// when the suite built, for each stream, the streamer it hands each step and held
		// the stream's runner apart from its observedStream). The third's one more than
		// the first is the throttle's end (one small value). The fourth, a hedge without
		// an attempt loop, cost 29 when the suite allocated the stream's attempt.Round and
		// the call options carrying it apart from its observedStream. The second's 54
		// allowed the new goroutine of its stream's end, counted at times.
		want float64
		// goroutines is how many goroutines a stream starts: the retry's ends the stream's
		// context as it ends, as gRPC's does, and that context's watcher runs in one of its own.
		goroutines uint64
	}{
		{"breaker and deadline", config.Profile{Breaker: br(), Deadline: &deadline.Config{Default: time.Minute}}, 27, 0},
		{"retry, breaker and deadline", config.Profile{Retry: quickRetry(3), Breaker: br(), Deadline: &deadline.Config{Default: time.Minute}}, 53, 1},
		{"breaker, throttle, bulkhead and deadline", config.Profile{Breaker: br(), AdaptiveThrottle: &throttle.Config{}, Bulkhead: &bulkhead.Config{MaxConcurrent: 16}, Deadline: &deadline.Config{Default: time.Minute}}, 28, 0},
		{"hedge, breaker and deadline", config.Profile{Hedge: &hedge.Config{MaxAttempts: 2, Delay: time.Second, Idempotent: true}, Breaker: br(), Deadline: &deadline.Config{Default: time.Minute}}, 27, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{
				Profiles: map[string]config.Profile{"p": tt.profile},
				Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
			}
			var calls int
			sink := observe.SinkFunc(func(e observe.Event) {
				if e.Kind == observe.CallFinished {
					calls++
				}
			})
			clk := clocktest.New(time.Unix(1700000000, 0))
			s, err := interceptors.New(cfg, interceptors.WithObserver(sink), interceptors.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			stream := s.Stream()
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				return &replyStream{ctx: ctx}, nil
			}
			desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
			ctx := context.Background()
			resp := new(kycv1.CheckResponse)
			run := func() {
				live := runtime.NumGoroutine()
				cs, err := stream(ctx, desc, nil, testkit.MethodCheck, streamer)
				if err != nil {
					t.Fatal(err)
				}
				if err := cs.RecvMsg(resp); err != nil {
					t.Fatal(err)
				}
				if err := cs.RecvMsg(resp); err != io.EOF {
					t.Fatalf("RecvMsg = %v, want io.EOF", err)
				}
				// The goroutines the stream started at its end (see below); a bounded wait, for
				// one that never ends is a leak, which goleak reports.
				for i := 0; i < 1000 && runtime.NumGoroutine() > live; i++ {
					runtime.Gosched()
				}
			}
			// The first run builds the suite's chain for the method; the next ones fill the
			// pools and the runtime's caches on every P (a single warm-up run left up to 0.8
			// allocations a stream to the first hundred). A collection empties the pools
			// again, so none runs while the streams are counted. Each run waits for the
			// goroutines its stream started to exit: AllocsPerRun runs on one P, where such a
			// goroutine runs only once the test's goroutine yields, and one not yet run holds
			// its g, so that the next stream's goroutine needed a new one, an allocation of
			// the runtime's (runtime.malg), whenever none was free; on a loaded machine, where
			// nothing ran the queued goroutines between the rounds, every round of a stream
			// that started one read an allocation a stream more. Each round is the figure.
			for range 300 {
				run()
			}
			calls = 0
			started := goroutinesCreated()
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
			var got [3]float64
			for i := range got {
				got[i] = testing.AllocsPerRun(100, run)
			}
			started = goroutinesCreated() - started
			if calls != 303 { // AllocsPerRun runs once more to warm up.
				t.Fatalf("%d CallFinished events, want 303: one a stream", calls)
			}
			t.Logf("%v allocations a stream, %d goroutines started", got, started)
			for i, got := range got {
				if got > tt.want {
					t.Errorf("a stream through the suite costs %.0f allocations in round %d of 3, want at most %.0f", got, i+1, tt.want)
				}
			}
			if started/303 != tt.goroutines {
				t.Errorf("a stream through the suite starts %d goroutines (%d for 303 streams), want %d", started/303, started, tt.goroutines)
			}
		})
	}
}

// goroutinesCreated is how many goroutines the process has started so far.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
