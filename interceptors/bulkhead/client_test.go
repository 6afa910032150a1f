package bulkhead_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// gauge tracks how many handlers run at once and the most ever seen.
type gauge struct {
	mu       sync.Mutex
	now, max int
}

func (g *gauge) enter() {
	g.mu.Lock()
	g.now++
	g.max = max(g.max, g.now)
	g.mu.Unlock()
}

func (g *gauge) leave() {
	g.mu.Lock()
	g.now--
	g.mu.Unlock()
}

func (g *gauge) peak() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max
}

// eventually polls cond until it holds or a generous limit passes. It waits for asynchronous
// work (context.AfterFunc), it asserts nothing about timing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s did not happen", what)
}

func TestUnaryInterceptor(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			if call == 1 {
				entered <- struct{}{}
				<-release
			}
			return &kycv1.CompareResponse{Similarity: 0.5}, nil
		}})
		clk := clocktest.New(time.Time{})
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1}, bulkhead.WithClock(clk))
		cc := srv.Dial(t, grpc.WithUnaryInterceptor(b.Unary()))
		client := kycv1.NewFaceMatchServiceClient(cc)
		ctx := context.Background()

		first := make(chan error, 1)
		go func() {
			_, err := client.Compare(ctx, &kycv1.CompareRequest{})
			first <- err
		}()
		within.Recv(t, entered, "the first call did not reach the server")
		if b.InFlight() != 1 {
			t.Fatalf("InFlight = %d while a call runs, want 1", b.InFlight())
		}

		tests := []struct {
			name     string
			opts     []grpc.CallOption
			freeAt   time.Duration // release the running call after this much fake time; 0: never
			wantCode grpccodes.Code
		}{
			{name: "full fails fast", wantCode: grpccodes.ResourceExhausted},
			{name: "per-call wait rejected", opts: []grpc.CallOption{bulkhead.WithMaxWait(time.Second)}, wantCode: grpccodes.ResourceExhausted},
			{name: "per-call wait admitted", opts: []grpc.CallOption{bulkhead.WithMaxWait(time.Second)}, freeAt: 10 * time.Millisecond, wantCode: grpccodes.OK},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				done := make(chan error, 1)
				go func() {
					_, err := client.Compare(ctx, &kycv1.CompareRequest{}, tt.opts...)
					done <- err
				}()
				if len(tt.opts) > 0 {
					clk.BlockUntil(1)
					if tt.freeAt > 0 {
						clk.Advance(tt.freeAt)
						close(release)
						if err := within.Recv(t, first, "the first call did not return once released"); err != nil {
							t.Fatalf("first call: %v", err)
						}
					} else {
						clk.Advance(time.Second)
					}
				}
				err := within.Recv(t, done, "the second call did not return")
				if got := status.Code(err); got != tt.wantCode {
					t.Fatalf("code = %v (%v), want %v", got, err, tt.wantCode)
				}
				if tt.wantCode == grpccodes.ResourceExhausted {
					checkRejection(t, err)
				}
			})
		}
		if got := srv.Calls(testkit.MethodCompare); got != 2 {
			t.Errorf("server calls = %d, want 2 (rejections never reach it)", got)
		}
		if b.InFlight() != 0 {
			t.Errorf("InFlight = %d, want 0", b.InFlight())
		}
	})
}

func TestUnaryReleasesOnPanic(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1})
		ic := b.Unary()
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic was swallowed")
				}
			}()
			_ = ic(context.Background(), testkit.MethodCompare, nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") })
		}()
		if b.InFlight() != 0 {
			t.Errorf("InFlight = %d after a panicking call, want 0", b.InFlight())
		}
	})
}

func TestUnaryCanceledWhileWaiting(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		clk := clocktest.New(time.Time{})
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Second}, bulkhead.WithClock(clk))
		b.TryAcquire()
		defer b.Release()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- b.Unary()(ctx, testkit.MethodCompare, nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil })
		}()
		clk.BlockUntil(1)
		cancel()
		if got := status.Code(within.Recv(t, done, "the waiting call did not return once its context was cancelled")); got != grpccodes.Canceled {
			t.Errorf("code = %v, want Canceled", got)
		}
	})
}

// TestUnaryConcurrency runs many calls through a real connection, some canceled and some
// panicking, and checks that the server never sees more than the limit and nothing leaks.
func TestUnaryConcurrency(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		const capacity, callers, rounds = 4, 24, 20
		var g gauge
		srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("canceled")) > 0 {
				// The client gave up on this call and freed its slot; the server may still run it.
				return &kycv1.CompareResponse{}, nil
			}
			g.enter()
			defer g.leave()
			time.Sleep(100 * time.Microsecond) // let calls overlap; nothing is asserted on it
			return &kycv1.CompareResponse{}, nil
		}})
		b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: capacity, MaxWait: 5 * time.Millisecond})
		panicky := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get("panic")) > 0 {
				panic("inner panic")
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		})
		cc := srv.Dial(t, grpc.WithChainUnaryInterceptor(b.Unary()), panicky)
		client := kycv1.NewFaceMatchServiceClient(cc)
		var ok, rejected, canceled, panics atomic.Int64
		var wg sync.WaitGroup
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					ctx, cancel := context.WithCancel(context.Background())
					switch (c + r) % 10 {
					case 3:
						ctx = metadata.AppendToOutgoingContext(ctx, "canceled", "1")
						cancel()
					case 5:
						ctx = metadata.AppendToOutgoingContext(ctx, "panic", "1")
					}
					func() {
						defer func() {
							if recover() != nil {
								panics.Add(1)
							}
						}()
						_, err := client.Compare(ctx, &kycv1.CompareRequest{})
						switch {
						case err == nil:
							ok.Add(1)
						case errors.Is(err, bulkhead.ErrFull):
							rejected.Add(1)
						case status.Code(err) == grpccodes.Canceled:
							canceled.Add(1)
						default:
							t.Errorf("Compare = %v", err)
						}
					}()
					cancel()
				}
			}()
		}
		wg.Wait()
		if p := g.peak(); p > capacity {
			t.Errorf("server saw %d calls at once, want <= %d", p, capacity)
		}
		if got := ok.Load() + rejected.Load() + canceled.Load() + panics.Load(); got != callers*rounds {
			t.Errorf("outcomes = %d, want %d", got, callers*rounds)
		}
		if panics.Load() == 0 || ok.Load() == 0 {
			t.Errorf("ok %d, panics %d: want some of each", ok.Load(), panics.Load())
		}
		if b.InFlight() != 0 {
			t.Errorf("InFlight = %d after all calls, want 0", b.InFlight())
		}
	})
}

// fakeStream is a grpc.ClientStream whose RecvMsg returns scripted errors.
type fakeStream struct {
	grpc.ClientStream
	ctx  context.Context
	recv []error
	n    int
	send error
	// onRecv, when set, runs as RecvMsg begins (a caller canceling while it reads, say).
	onRecv func()
}

func (f *fakeStream) Context() context.Context { return f.ctx }
func (f *fakeStream) SendMsg(any) error        { return f.send }

func (f *fakeStream) RecvMsg(any) error {
	if f.onRecv != nil {
		f.onRecv()
	}
	if f.n >= len(f.recv) {
		return io.EOF
	}
	err := f.recv[f.n]
	f.n++
	return err
}

func TestStreamEnds(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		serverStream := &grpc.StreamDesc{ServerStreams: true}
		clientStream := &grpc.StreamDesc{ClientStreams: true}
		tests := []struct {
			name      string
			desc      *grpc.StreamDesc
			openErr   error
			openPanic bool
			recv      []error // what RecvMsg returns, in order
			recvCalls int
			send      error // when set, SendMsg is called once, returning it, before any RecvMsg
			cancel    bool  // cancel the stream's context after the RecvMsg calls
			wantHeld  bool  // the slot is still held after the RecvMsg calls, before any cancel
		}{
			{name: "open fails", desc: serverStream, openErr: status.Error(grpccodes.Unavailable, "down")},
			{name: "open panics", desc: serverStream, openPanic: true},
			{name: "open then nothing", desc: serverStream, wantHeld: true},
			{name: "messages then EOF", desc: serverStream, recv: []error{nil, nil}, recvCalls: 3},
			{name: "messages keep it", desc: serverStream, recv: []error{nil, nil}, recvCalls: 2, wantHeld: true},
			{name: "recv error", desc: serverStream, recv: []error{nil, status.Error(grpccodes.Internal, "x")}, recvCalls: 2},
			{name: "client-streaming reply", desc: clientStream, recv: []error{nil}, recvCalls: 1},
			{name: "client-streaming error", desc: clientStream, recv: []error{status.Error(grpccodes.Unavailable, "x")}, recvCalls: 1},
			{name: "send fails on this side", desc: serverStream, send: status.Error(grpccodes.Internal, "marshal")},
			{name: "send io.EOF keeps it for RecvMsg", desc: serverStream, send: io.EOF, wantHeld: true},
			{name: "caller cancels", desc: serverStream, recv: []error{nil}, recvCalls: 1, cancel: true, wantHeld: true},
			{name: "EOF then cancel", desc: serverStream, recvCalls: 1, cancel: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b, _ := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 2})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					if tt.openPanic {
						panic("open")
					}
					if tt.openErr != nil {
						return nil, tt.openErr
					}
					return &fakeStream{ctx: ctx, recv: tt.recv, send: tt.send}, nil
				}
				var cs grpc.ClientStream
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil && !tt.openPanic {
							t.Fatalf("panic: %v", p)
						}
					}()
					cs, err = b.Stream()(ctx, tt.desc, nil, testkit.MethodCheck, streamer)
				}()
				if tt.openErr != nil && !errors.Is(err, tt.openErr) {
					t.Fatalf("open err = %v, want %v", err, tt.openErr)
				}
				if tt.send != nil {
					_ = cs.SendMsg(nil)
				}
				for range tt.recvCalls {
					_ = cs.RecvMsg(nil)
				}
				if held := b.InFlight() == 1; held != tt.wantHeld {
					t.Fatalf("slot held = %v, want %v", held, tt.wantHeld)
				}
				if tt.cancel {
					cancel()
					eventually(t, "release on cancel", func() bool { return b.InFlight() == 0 })
				}
				if !tt.wantHeld || tt.cancel {
					// Exactly once: another holder's slot must survive every later end.
					if !b.TryAcquire() {
						t.Fatal("TryAcquire failed")
					}
					cancel()
					if cs != nil {
						_ = cs.RecvMsg(nil)
					}
					time.Sleep(time.Millisecond) // give a wrong second release a chance to run
					if got := b.InFlight(); got != 1 {
						t.Fatalf("InFlight = %d, want 1: the stream released twice", got)
					}
					b.Release()
				}
			})
		}
	})
}

// TestStreamCheck runs liveness Check streams over a real connection: a full bulkhead rejects
// the open, a finished stream frees its slot, and a canceled one frees it too.
func TestStreamCheck(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		var g gauge
		srv := testkit.Start(t, &testkit.Server{CheckF: func(_ int, stream kycv1.LivenessService_CheckServer) error {
			if md, _ := metadata.FromIncomingContext(stream.Context()); len(md.Get("abandoned")) > 0 {
				// The client freed its slot when it canceled; the server may still run the stream.
				<-stream.Context().Done()
				return stream.Context().Err()
			}
			g.enter()
			defer g.leave()
			return testkit.DrainCheck(stream, 0.9)
		}})
		rec := &testkit.Recorder{}
		b, _ := newBulkhead("kyc.v1.LivenessService", bulkhead.Config{MaxConcurrent: 2}, bulkhead.WithObserver(rec))
		cc := srv.Dial(t, grpc.WithStreamInterceptor(b.Stream()))
		client := kycv1.NewLivenessServiceClient(cc)

		ctx1, cancel1 := context.WithCancel(context.Background())
		s1, err := client.Check(metadata.AppendToOutgoingContext(ctx1, "abandoned", "1"))
		if err != nil {
			t.Fatal(err)
		}
		s2, err := client.Check(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Check(context.Background()); status.Code(err) != grpccodes.ResourceExhausted || !errors.Is(err, bulkhead.ErrFull) {
			t.Fatalf("third Check = %v, want ResourceExhausted/ErrFull", err)
		}
		if evs := rec.Events(observe.Rejected); len(evs) != 1 || evs[0].Method != testkit.MethodCheck || evs[0].Service != "kyc.v1.LivenessService" {
			t.Fatalf("Rejected events = %+v, want one for %s", evs, testkit.MethodCheck)
		}
		for i := range 3 {
			if err := s2.Send(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := s2.CloseAndRecv()
		if err != nil || resp.GetFramesAnalyzed() != 3 {
			t.Fatalf("CloseAndRecv = %v, %v", resp, err)
		}
		if b.InFlight() != 1 {
			t.Fatalf("InFlight = %d after one stream finished, want 1", b.InFlight())
		}
		cancel1() // the caller abandons s1
		eventually(t, "slot freed by cancel", func() bool { return b.InFlight() == 0 })
		_ = s1

		// Many streams at once, a third of them abandoned: never more than the limit, no leak.
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if i%3 == 0 {
					ctx = metadata.AppendToOutgoingContext(ctx, "abandoned", "1")
				}
				s, err := client.Check(ctx)
				if err != nil {
					if !errors.Is(err, bulkhead.ErrFull) {
						t.Errorf("Check = %v", err)
					}
					return
				}
				if i%3 == 0 {
					return // abandoned: the deferred cancel ends it
				}
				_ = s.Send(&kycv1.CheckRequest{Index: 1})
				if _, err := s.CloseAndRecv(); err != nil {
					t.Errorf("CloseAndRecv = %v", err)
				}
			}()
		}
		wg.Wait()
		eventually(t, "all slots freed", func() bool { return b.InFlight() == 0 })
		if p := g.peak(); p > 2 {
			t.Errorf("server saw %d streams at once, want <= 2", p)
		}
	})
}

// A bulkhead is instant for a call that may not wait for a slot, by its MaxWait or the call's.
func TestInstant(t *testing.T) {
	failFast, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !failFast.Instant(nil) || failFast.Instant([]grpc.CallOption{bulkhead.WithMaxWait(time.Second)}) {
		t.Error("MaxWait 0: want instant, and not for a call that may wait")
	}
	waits, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if waits.Instant(nil) || !waits.Instant([]grpc.CallOption{bulkhead.WithMaxWait(0)}) {
		t.Error("MaxWait 1s: want not instant, but instant for a call that may not wait")
	}
}

// A call whose caller's deadline had passed before it began goes to grpc, which fails it
// before sending anything, without the bulkhead: it takes no slot (so it is not refused as
// BULKHEAD_FULL, and ends with its own DeadlineExceeded), and an adaptive limit takes no
// sample from it (a drop before the fix: five such calls halved the limit five times).
func TestEndedContextTakesNoSlot(t *testing.T) {
	ended, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		return status.FromContextError(ctx.Err()).Err()
	}
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		b, err := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !b.TryAcquire() {
			t.Fatal("no free slot")
		}
		defer b.Release()
		if err := b.Unary()(ended, testkit.MethodCompare, nil, nil, nil, invoker); status.Code(err) != grpccodes.DeadlineExceeded {
			t.Errorf("unary call = %v, want the invoker's DeadlineExceeded", err)
		}
		if _, err := b.Stream()(ended, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer); status.Code(err) != grpccodes.DeadlineExceeded {
			t.Errorf("stream open = %v, want the streamer's DeadlineExceeded", err)
		}
		if n := b.InFlight(); n != 1 {
			t.Errorf("InFlight = %d, want 1 (the slot the test holds)", n)
		}
	})
	b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", InitialLimit: 2, BackoffRatio: 0.5}})
	for range 5 {
		_ = b.Unary()(ended, testkit.MethodCompare, nil, nil, nil, invoker)
		_, _ = b.Stream()(ended, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	}
	if got := b.Capacity(); got != 2 {
		t.Errorf("adaptive limit = %d after calls that began past their deadline, want 2 (no sample)", got)
	}
}

// TestRefusedStreamRunsOnFinish: a stream the bulkhead refuses (no slot) never reaches grpc,
// which would have run the caller's grpc.OnFinish callbacks once the stream ended; the
// interceptor runs them once, with the refusal, as a refused unary call does. A stream
// interceptor before the bulkhead that ends its bookkeeping on OnFinish otherwise never ends it.
func TestRefusedStreamRunsOnFinish(t *testing.T) {
	b, err := bulkhead.New("kyc.v1.OCRService", bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		t.Fatal("the streamer was reached")
		return nil, nil
	}
	var f testkit.Finishes
	_, err = b.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/kyc.v1.OCRService/Watch", streamer, f.Option())
	if !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("stream: %v, want ErrFull", err)
	}
	if errs := f.Errs(); len(errs) != 1 || errs[0] != err {
		t.Fatalf("refused stream: OnFinish ran %d times with %v, want once with %v", len(errs), errs, err)
	}
}
