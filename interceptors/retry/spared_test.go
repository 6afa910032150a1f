package retry_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sparedPanics is an observer that panics on AttemptSpared, and counts the panics.
type sparedPanics struct{ n atomic.Int32 }

func (o *sparedPanics) Observe(e observe.Event) {
	if e.Kind == observe.AttemptSpared {
		o.n.Add(1)
		panic("observer panics on attempt_spared")
	}
}

// wantSpared fails t unless rec holds exactly one AttemptSpared, of attempt n of method,
// whose timeout d was reached at at.
func wantSpared(t *testing.T, rec *testkit.Recorder, method string, n int, d time.Duration, at time.Time) {
	t.Helper()
	got := rec.Events(observe.AttemptSpared)
	if len(got) != 1 {
		t.Fatalf("%d AttemptSpared events (%+v), want 1", len(got), got)
	}
	e := got[0]
	if svc, _, _ := strings.Cut(method[1:], "/"); e.Service != svc {
		t.Errorf("AttemptSpared's Service = %q, want %q", e.Service, svc)
	}
	if e.Method != method || e.Policy != observe.PolicyRetry || e.Attempt != n || e.Delay != d || !e.Time.Equal(at) {
		t.Errorf("AttemptSpared = {Method %q Policy %q Attempt %d Delay %v Time %v}, want {%q %q %d %v %v}",
			e.Method, e.Policy, e.Attempt, e.Delay, e.Time, method, observe.PolicyRetry, n, d, at)
	}
}

// TestSparedAttemptIsObserved: under CutOvertaken, an attempt whose timeout comes while the
// service overtook none of it is told the sink once (AttemptSpared: its number over the call,
// the timeout, when it came); an attempt answered before its timeout, one the timeout cuts
// (overtaken), and any attempt under CutAlways are not.
func TestSparedAttemptIsObserved(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cut   retry.Cut
		first error         // the first attempt's outcome, at once (nil: the watched attempt is the first)
		takes time.Duration // how long the watched attempt takes
		want  bool
	}{
		{name: "slow for everyone", cut: retry.CutOvertaken, takes: 3 * time.Second, want: true},
		{name: "slow retry", cut: retry.CutOvertaken, first: status.Error(grpccodes.Unavailable, "down"), takes: 3 * time.Second, want: true},
		{name: "answered in time", cut: retry.CutOvertaken, takes: 999 * time.Millisecond},
		{name: "cut always", cut: retry.CutAlways, takes: 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, clk, rec, _ := newCutPolicy(t, tt.cut)
			calls, n := 0, 1
			if tt.first != nil {
				n = 2
			}
			var watchedStart time.Time
			err := p.Do(context.Background(), overtakenMethod, func(ctx context.Context) error {
				calls++
				if calls < n {
					return tt.first
				}
				if calls == n {
					watchedStart = clk.Now()
					clk.Advance(tt.takes)
				}
				return ctx.Err()
			})
			if err != nil {
				t.Fatalf("Do = %v after %d attempts", err, calls)
			}
			if !tt.want {
				if got := rec.Events(observe.AttemptSpared); len(got) != 0 {
					t.Fatalf("AttemptSpared %+v, want none", got)
				}
				return
			}
			wantSpared(t, rec, overtakenMethod, n, time.Second, watchedStart.Add(time.Second))
			// Before the attempt's AttemptFinished: the timer spared it as it ran.
			var kinds []observe.Kind
			for _, e := range rec.Events(observe.AttemptSpared, observe.AttemptFinished) {
				kinds = append(kinds, e.Kind)
			}
			if want := append(slices.Repeat([]observe.Kind{observe.AttemptFinished}, n-1), observe.AttemptSpared, observe.AttemptFinished); !slices.Equal(kinds, want) {
				t.Fatalf("events %v, want %v", kinds, want)
			}
		})
	}
}

// TestOvertakenAttemptIsNotSpared: an attempt that the service overtook is cut at its timeout
// and retried, through the interceptor's pooled timer: no AttemptSpared, for it or its retry.
func TestOvertakenAttemptIsNotSpared(t *testing.T) {
	s := newSetup(t, retry.Config{PerAttemptTimeout: time.Second, PerAttemptCut: retry.CutOvertaken, Jitter: retry.JitterNone}, 0)
	srv, hung := hangingServer(t)
	client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv))
	if attempts, err := overtakenCall(t, s, client, hung); err != nil || attempts != 2 {
		t.Fatalf("the overtaken call = %v after %d attempts, want its retry's answer", err, attempts)
	}
	if got := s.rec.Events(observe.AttemptSpared); len(got) != 0 {
		t.Fatalf("AttemptSpared %+v for a cut attempt, want none", got)
	}
}

// TestSparedUnaryAttemptIsObserved: through the interceptor (the call's pooled timer, the
// call's own observer over the policy's), a spared attempt is told both sinks once; an
// observer that panics on it neither crashes the program nor cuts the attempt, whose answer is
// the call's, and leaves no timer armed for the calls after it.
func TestSparedUnaryAttemptIsObserved(t *testing.T) {
	for _, panics := range []bool{false, true} {
		t.Run(map[bool]string{false: "observed", true: "observer panics"}[panics], func(t *testing.T) {
			s := newSetup(t, retry.Config{PerAttemptTimeout: time.Second, PerAttemptCut: retry.CutOvertaken}, -1)
			srv := testkit.Start(t, &testkit.Server{})
			var slow atomic.Bool
			slow.Store(true)
			var at time.Time
			below := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if slow.Swap(false) {
					at = s.clk.Now().Add(time.Second)
					s.clk.Advance(2 * time.Second) // past the timeout: nobody overtook the attempt
				}
				return invoker(ctx, method, req, reply, cc, opts...)
			}
			client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv, below))
			own := &testkit.Recorder{}
			var sink observe.Sink = own
			po := &sparedPanics{}
			if panics {
				sink = observe.Multi(own, po)
			}
			var info retry.Info
			if _, err := client.Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info), retry.WithCallObserver(sink)); err != nil || info.Attempts != 1 {
				t.Fatalf("Compare = %v after %d attempts, want the first attempt's answer", err, info.Attempts)
			}
			wantSpared(t, own, "/kyc.v1.FaceMatchService/Compare", 1, time.Second, at)
			if panics && po.n.Load() != 1 {
				t.Fatalf("the observer was told %d spared attempts, want 1", po.n.Load())
			}
			if got := codesOf(own); !slices.Equal(got, []grpccodes.Code{grpccodes.OK}) {
				t.Fatalf("attempts ended %v, want the spared one's OK", got)
			}
			for range 3 {
				if _, err := client.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
					t.Fatalf("a later call = %v", err)
				}
			}
			if n := s.clk.Timers(); n != 0 {
				t.Fatalf("%d timers left armed", n)
			}
			if got := s.rec.Count(observe.AttemptSpared); got != 0 {
				t.Fatalf("the policy's sink got %d AttemptSpared of a call with its own observer, want 0", got)
			}
		})
	}
}

// TestSparedStreamAttemptIsObserved: a client stream's attempt that its timeout spares under
// CutOvertaken is told the sink once, after the stream's lock is given up; none is told when
// a later stream overtook it (it is cut) or under CutAlways. An observer that panics on it
// neither crashes the program nor cuts the attempt, whose late reply is the stream's.
func TestSparedStreamAttemptIsObserved(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cut       retry.Cut
		overtaken bool
		panics    bool
		opens     int32
		spared    bool
	}{
		{"slow for everyone", retry.CutOvertaken, false, false, 1, true},
		{"observer panics", retry.CutOvertaken, false, true, 1, true},
		{"overtaken", retry.CutOvertaken, true, false, 2, false},
		{"cut always", retry.CutAlways, false, false, 2, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Now())
				rec := &testkit.Recorder{}
				var sink observe.Sink = rec
				po := &sparedPanics{}
				if tt.panics {
					sink = observe.Multi(rec, po)
				}
				p, err := retry.New(retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second, PerAttemptCut: tt.cut, Idempotent: true},
					retry.WithClock(clk), retry.WithRand(seq(0.5)), retry.WithObserver(sink))
				if err != nil {
					t.Fatal(err)
				}
				start := clk.Now()
				cs, answer, opens := lateStreamToItsTimeout(t, p, clk, tt.overtaken)
				synctest.Wait()
				if tt.spared {
					wantSpared(t, rec, testkit.MethodCheck, 1, 5*time.Second, start.Add(5*time.Second))
				} else if got := rec.Events(observe.AttemptSpared); len(got) != 0 {
					t.Fatalf("AttemptSpared %+v, want none", got)
				}
				if tt.panics && po.n.Load() != 1 {
					t.Fatalf("the observer was told %d spared attempts, want 1", po.n.Load())
				}
				close(answer)
				if err := testkit.CloseAndRecvInBubble(cs, clk, &kycv1.CheckRequest{Index: 1}, new(kycv1.CheckResponse)); err != nil {
					t.Fatalf("CloseAndRecv = %v after %d attempts", err, opens.Load())
				}
				if n := opens.Load(); n != tt.opens {
					t.Fatalf("%d attempts, want %d", n, tt.opens)
				}
				if n := rec.Count(observe.AttemptSpared); tt.spared && n != 1 {
					t.Fatalf("%d AttemptSpared by the stream's end, want 1", n)
				}
			})
		})
	}
}
