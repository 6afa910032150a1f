package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const svc = "kyc.v1.FaceMatchService"

func TestNew(t *testing.T) {
	tests := []struct {
		name         string
		cfg          bulkhead.Config
		wantCapacity int
		wantErr      bool
	}{
		{name: "zero is the default", cfg: bulkhead.Config{}, wantCapacity: bulkhead.DefaultMaxConcurrent},
		{name: "explicit", cfg: bulkhead.Config{MaxConcurrent: 3, MaxWait: time.Second}, wantCapacity: 3},
		{name: "negative capacity", cfg: bulkhead.Config{MaxConcurrent: -1}, wantErr: true},
		{name: "negative wait", cfg: bulkhead.Config{MaxConcurrent: 1, MaxWait: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bulkhead.New(svc, tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := b.Capacity(); got != tt.wantCapacity {
				t.Errorf("Capacity = %d, want %d", got, tt.wantCapacity)
			}
			if b.InFlight() != 0 || b.Available() != tt.wantCapacity || b.Name() != svc {
				t.Errorf("InFlight %d Available %d Name %q", b.InFlight(), b.Available(), b.Name())
			}
		})
	}
}

// checkRejection asserts that err is a bulkhead rejection a gRPC caller can read.
func checkRejection(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != grpccodes.ResourceExhausted {
		t.Fatalf("status = %v (ok %v), want ResourceExhausted", st, ok)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo: // A bulkhead cannot tell when a slot frees.
			t.Errorf("RetryInfo %v in a bulkhead rejection", d)
		}
	}
	if info == nil {
		t.Fatalf("no ErrorInfo in %v", st.Details())
	}
	if info.GetReason() != "BULKHEAD_FULL" || info.GetDomain() != codes.Domain ||
		info.GetMetadata()["policy"] != observe.PolicyBulkhead || info.GetMetadata()["service"] != svc {
		t.Errorf("ErrorInfo = %v", info)
	}
	if v := codes.Default().Classify(err); v.Class != codes.Rejected || v.Code != grpccodes.ResourceExhausted || v.Reason != "BULKHEAD_FULL" {
		t.Errorf("Classify = %+v, want Rejected/ResourceExhausted/BULKHEAD_FULL", v)
	}
}

func TestAcquireFailFast(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		rec := &testkit.Recorder{}
		b, err := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 2}, bulkhead.WithObserver(rec))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := range 2 {
			if err := b.Acquire(ctx); err != nil {
				t.Fatalf("Acquire %d: %v", i, err)
			}
		}
		if b.TryAcquire() {
			t.Fatal("TryAcquire on a full bulkhead succeeded")
		}
		checkRejection(t, b.Acquire(ctx))
		evs := rec.Events(observe.Rejected)
		if len(evs) != 1 {
			t.Fatalf("Rejected events = %d, want 1 (TryAcquire emits none)", len(evs))
		}
		if e := evs[0]; e.Policy != observe.PolicyBulkhead || e.Service != svc || e.Code != grpccodes.ResourceExhausted || e.Reason != "BULKHEAD_FULL" {
			t.Errorf("event = %+v", e)
		}
		b.Release()
		if !b.TryAcquire() {
			t.Fatal("TryAcquire after Release failed")
		}
		b.Release()
		b.Release()
		if got := b.InFlight(); got != 0 {
			t.Errorf("InFlight = %d, want 0", got)
		}
	})
}

func TestReleaseWithoutSlotPanics(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1})
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Release without a slot did not panic")
				}
			}()
			b.Release()
		}()
		// The refused Release leaves the count as it was: still one slot, not two.
		if !b.TryAcquire() {
			t.Fatal("TryAcquire after a refused Release failed")
		}
		if b.TryAcquire() {
			t.Fatal("a refused Release added a slot: a second TryAcquire on MaxConcurrent 1 succeeded")
		}
		if got := b.Available(); got != 0 {
			t.Errorf("Available = %d, want 0", got)
		}
		b.Release()
	})
}

// TestAcquireWait drives a bounded wait on a full bulkhead through each way it can end, with a
// fake clock: wantWaited is the fake time that passed before Acquire returned.
func TestAcquireWait(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		tests := []struct {
			name       string
			maxWait    time.Duration
			deadline   time.Duration // 0: none; <0: already passed
			cancel     bool          // cancel the context while waiting
			freeAfter  time.Duration // release the held slot after this much fake time; 0: never
			wantErr    error         // nil, bulkhead.ErrFull or context.Canceled
			wantWaited time.Duration
		}{
			{name: "slot frees in time", maxWait: time.Second, freeAfter: 300 * time.Millisecond, wantWaited: 300 * time.Millisecond},
			{name: "rejected at max wait", maxWait: time.Second, wantErr: bulkhead.ErrFull, wantWaited: time.Second},
			{name: "rejected at deadline before max wait", maxWait: time.Second, deadline: 200 * time.Millisecond, wantErr: bulkhead.ErrFull, wantWaited: 200 * time.Millisecond},
			{name: "max wait before deadline", maxWait: 100 * time.Millisecond, deadline: time.Second, wantErr: bulkhead.ErrFull, wantWaited: 100 * time.Millisecond},
			{name: "deadline already passed", maxWait: time.Second, deadline: -1, wantErr: bulkhead.ErrFull},
			{name: "admitted before deadline", maxWait: time.Second, deadline: 500 * time.Millisecond, freeAfter: 400 * time.Millisecond, wantWaited: 400 * time.Millisecond},
			{name: "canceled while waiting", maxWait: time.Second, cancel: true, wantErr: context.Canceled},
			{name: "fail fast", wantErr: bulkhead.ErrFull},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clk := clocktest.New(time.Time{})
				b, err := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1, MaxWait: tt.maxWait}, bulkhead.WithClock(clk))
				if err != nil {
					t.Fatal(err)
				}
				if !b.TryAcquire() {
					t.Fatal("TryAcquire on an empty bulkhead failed")
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				switch {
				case tt.deadline < 0:
					var c2 context.CancelFunc
					ctx, c2 = clock.WithDeadline(ctx, clk, clk.Now().Add(-time.Second))
					defer c2()
				case tt.deadline > 0:
					var c2 context.CancelFunc
					ctx, c2 = clock.WithTimeout(ctx, clk, tt.deadline)
					defer c2()
				}
				start := clk.Now()
				done := make(chan error, 1)
				go func() { done <- b.Acquire(ctx) }()

				waits := tt.maxWait > 0 && tt.deadline >= 0
				if waits {
					timers := 1
					if tt.deadline > 0 {
						timers = 2 // the context's own timer and the wait's
					}
					clk.BlockUntil(timers)
					switch {
					case tt.cancel:
						cancel()
					case tt.freeAfter > 0:
						clk.Advance(tt.freeAfter)
						b.Release()
					default:
						clk.Advance(tt.maxWait + tt.deadline)
					}
				}
				err = within.Recv(t, done, "Acquire did not return")
				if tt.wantErr == nil {
					if err != nil {
						t.Fatalf("Acquire = %v, want nil", err)
					}
					if got := b.InFlight(); got != 1 {
						t.Errorf("InFlight = %d, want 1 (the waiter's slot)", got)
					}
					b.Release()
				} else {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Acquire = %v, want %v", err, tt.wantErr)
					}
					if errors.Is(err, bulkhead.ErrFull) {
						checkRejection(t, err)
					}
					b.Release()
				}
				if got := clk.Since(start); tt.wantErr != nil && !tt.cancel && got < tt.wantWaited {
					t.Errorf("waited %v, want %v", got, tt.wantWaited)
				}
				if b.InFlight() != 0 {
					t.Errorf("InFlight = %d after release, want 0", b.InFlight())
				}
				if tt.wantErr == bulkhead.ErrFull && tt.maxWait > 0 && tt.deadline >= 0 {
					// Rejected exactly when the earlier of MaxWait and the deadline passed: the
					// wait's timer was set for that long.
					want := tt.maxWait
					if tt.deadline > 0 {
						want = min(want, tt.deadline)
					}
					if got := clk.Since(start); got < want {
						t.Errorf("rejected after %v, want at %v", got, want)
					}
				}
			})
		}
	})
}

// TestWaitRejectedAtEarlierBound checks the moment of rejection exactly: one nanosecond before
// min(MaxWait, deadline) the waiter is still waiting.
func TestWaitRejectedAtEarlierBound(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		tests := []struct {
			name     string
			maxWait  time.Duration
			deadline time.Duration
			want     time.Duration
		}{
			{name: "max wait first", maxWait: 100 * time.Millisecond, deadline: time.Second, want: 100 * time.Millisecond},
			{name: "deadline first", maxWait: time.Second, deadline: 250 * time.Millisecond, want: 250 * time.Millisecond},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clk := clocktest.New(time.Time{})
				b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1, MaxWait: tt.maxWait}, bulkhead.WithClock(clk))
				b.TryAcquire()
				defer b.Release()
				ctx, cancel := clock.WithTimeout(context.Background(), clk, tt.deadline)
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- b.Acquire(ctx) }()
				clk.BlockUntil(2)
				clk.Advance(tt.want - time.Nanosecond)
				select {
				case err := <-done:
					t.Fatalf("Acquire returned %v before %v", err, tt.want)
				default:
				}
				clk.Advance(time.Nanosecond)
				if err := within.Recv(t, done, "Acquire did not return once its wait was over"); !errors.Is(err, bulkhead.ErrFull) {
					t.Fatalf("Acquire = %v, want ErrFull", err)
				}
			})
		}
	})
}

// TestWaitersFIFO checks that freed slots go to waiters in the order they came.
func TestWaitersFIFO(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		clk := clocktest.New(time.Time{})
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Hour}, bulkhead.WithClock(clk))
		b.TryAcquire()
		const n = 5
		order := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := b.Acquire(context.Background()); err != nil {
					t.Errorf("waiter %d: %v", i, err)
					return
				}
				order <- i
			}()
			clk.BlockUntil(i + 1) // waiter i has its timer...
			waitParked(t, i+1)    // ...and is parked in the queue before waiter i+1 starts
		}
		for want := range n {
			b.Release()
			if got := within.Recv(t, order, fmt.Sprintf("waiter %d was not admitted once a slot was freed", want)); got != want {
				t.Fatalf("admitted waiter %d, want %d", got, want)
			}
		}
		b.Release()
		within.Wait(t, &wg, "the admitted waiters did not return")
		if b.InFlight() != 0 {
			t.Errorf("InFlight = %d, want 0", b.InFlight())
		}
	})
}

// waitParked waits until n goroutines are parked in Bulkhead.acquire's select. Regression: the
// test used to start waiter i+1 once waiter i's timer existed, before waiter i had blocked on
// the queue, so waiter i+1 could queue first and the FIFO check flaked.
func waitParked(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 2000 {
		stacks := string(buf[:runtime.Stack(buf, true)])
		parked := 0
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "bulkhead.(*Bulkhead).acquire") {
				parked++
			}
		}
		if parked >= n {
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d waiters never parked", n)
}

// TestConcurrentAcquire hammers Acquire/Release from many goroutines, some canceled, and checks
// the bound and that no slot leaks.
func TestConcurrentAcquire(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		const capacity, workers, rounds = 3, 16, 200
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: capacity, MaxWait: time.Millisecond})
		var mu sync.Mutex
		inside, maxInside := 0, 0
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					ctx, cancel := context.WithCancel(context.Background())
					if (w+r)%7 == 0 {
						cancel()
					}
					if err := b.Acquire(ctx); err != nil {
						cancel()
						if !errors.Is(err, bulkhead.ErrFull) && !errors.Is(err, context.Canceled) {
							t.Errorf("Acquire = %v", err)
						}
						continue
					}
					mu.Lock()
					inside++
					maxInside = max(maxInside, inside)
					mu.Unlock()
					mu.Lock()
					inside--
					mu.Unlock()
					b.Release()
					cancel()
				}
			}()
		}
		wg.Wait()
		if maxInside > capacity {
			t.Errorf("max in flight = %d, want <= %d", maxInside, capacity)
		}
		if b.InFlight() != 0 {
			t.Errorf("InFlight = %d after all ended, want 0", b.InFlight())
		}
	})
}

// TestNoLostWakeup has many goroutines take and give back few slots, every one willing to wait
// as long as it takes: each Acquire must end with a slot. A slot freed while a waiter queues
// and granted to nobody would leave that waiter parked until the watchdog's deadline.
func TestNoLostWakeup(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		const capacity, workers, rounds = 2, 16, 300
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: capacity, MaxWait: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // the watchdog
		defer cancel()
		var inside atomic.Int32
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					if err := b.Acquire(ctx); err != nil {
						t.Errorf("Acquire = %v; want a slot (a lost wakeup?)", err)
						return
					}
					if n := inside.Add(1); n > capacity {
						t.Errorf("%d in flight, want <= %d", n, capacity)
					}
					runtime.Gosched()
					inside.Add(-1)
					b.Release()
				}
			}()
		}
		wg.Wait()
		if b.InFlight() != 0 || b.Available() != capacity {
			t.Errorf("InFlight %d, Available %d after all ended; want 0, %d", b.InFlight(), b.Available(), capacity)
		}
	})
}

// newFunc builds a bulkhead, as bulkhead.New does, in one of the modes.
type newFunc func(name string, cfg bulkhead.Config, opts ...bulkhead.Option) (*bulkhead.Bulkhead, error)

// forModes runs a behaviour test of the fixed limit in every mode: fixed, and each adaptive
// algorithm started at MaxConcurrent (its ceiling), so that the slots the test counts on are
// there at the start. Samples can only lower an adaptive limit from there, which none of these
// tests depends on.
func forModes(t *testing.T, test func(t *testing.T, newBulkhead newFunc)) {
	t.Helper()
	for _, alg := range []bulkhead.Algorithm{bulkhead.AlgorithmNone, bulkhead.AlgorithmAIMD, bulkhead.AlgorithmGradient} {
		name := string(alg)
		if alg == bulkhead.AlgorithmNone {
			name = "fixed"
		}
		t.Run(name, func(t *testing.T) {
			test(t, func(n string, cfg bulkhead.Config, opts ...bulkhead.Option) (*bulkhead.Bulkhead, error) {
				if alg != bulkhead.AlgorithmNone {
					cfg.Adaptive = bulkhead.Adaptive{Algorithm: alg, InitialLimit: cfg.MaxConcurrent}
				}
				return bulkhead.New(n, cfg, opts...)
			})
		})
	}
}

// TestFixedHotPathAllocs: a fixed bulkhead's slot taken and given back, by Acquire, TryAcquire
// and the unary interceptor around a call that does nothing, allocates nothing, and leaves
// every slot free.
func TestFixedHotPathAllocs(t *testing.T) {
	bh, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ic := bh.Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"Acquire+Release", func() {
			if err := bh.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
			bh.Release()
		}},
		{"TryAcquire+Release", func() {
			if !bh.TryAcquire() {
				t.Fatal("TryAcquire refused a free slot")
			}
			bh.Release()
		}},
		{"Unary", func() {
			if err := ic(ctx, testkit.MethodCompare, nil, nil, nil, invoker); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		if n := testing.AllocsPerRun(200, tt.f); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", tt.name, n)
		}
		if got := bh.InFlight(); got != 0 {
			t.Errorf("%s: %d slots held after the calls, want 0", tt.name, got)
		}
	}
}
