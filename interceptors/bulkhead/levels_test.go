package bulkhead_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// inFlightAndCapacity reads b's levels and checks their shape.
func inFlightAndCapacity(t *testing.T, b *bulkhead.Bulkhead) (inFlight, capacity float64) {
	t.Helper()
	var got []observe.Level
	b.Levels(func(l observe.Level) bool { got = append(got, l); return true })
	if len(got) != 2 || got[0].Kind != observe.LevelInFlight || got[1].Kind != observe.LevelCapacity {
		t.Fatalf("levels = %+v, want in-flight then capacity", got)
	}
	for _, l := range got {
		if l.Policy != observe.PolicyBulkhead || l.Service != svc || l.Method != "" || l.State != "" {
			t.Fatalf("level %+v: want policy bulkhead, service %s", l, svc)
		}
	}
	return got[0].Value, got[1].Value
}

func TestLevelsDuringAHeldCall(t *testing.T) {
	for _, tt := range []struct {
		name         string
		cfg          bulkhead.Config
		wantCapacity float64
	}{
		{name: "fixed", cfg: bulkhead.Config{MaxConcurrent: 3}, wantCapacity: 3},
		{name: "adaptive", cfg: bulkhead.Config{MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", InitialLimit: 5}}, wantCapacity: 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bulkhead.New(svc, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			entered, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
			held := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				close(entered)
				<-release
				return nil
			}
			go func() {
				done <- b.Unary()(context.Background(), "/kyc.v1.FaceMatchService/Match", nil, nil, nil, held)
			}()
			within.Recv(t, entered, "the call did not reach the invoker")
			if n, c := inFlightAndCapacity(t, b); n != 1 || c != tt.wantCapacity {
				t.Errorf("during the call: in flight %v, capacity %v; want 1, %v", n, c, tt.wantCapacity)
			}
			close(release)
			if err := within.Recv(t, done, "the call did not return once released"); err != nil {
				t.Fatal(err)
			}
			if n, _ := inFlightAndCapacity(t, b); n != 0 {
				t.Errorf("after the call: in flight %v, want 0", n)
			}
		})
	}
}

func TestLevelsStopAndDoNotAllocate(t *testing.T) {
	b, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	b.Levels(func(observe.Level) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("yield called %d times after returning false, want 1", calls)
	}
	var sum float64
	add := func(l observe.Level) bool { sum += l.Value; return true }
	if a := testing.AllocsPerRun(100, func() { b.Levels(add) }); a != 0 {
		t.Fatalf("%v allocations per Levels, want 0", a)
	}
	if sum == 0 {
		t.Fatal("capacity was never read")
	}
}

// A bulkhead named by a full method "/pkg.Service/Method" (as a suite names the bulkhead of a
// method with a bulkhead of its own) guards that method of that service: its rejections, its
// events and its levels name the service as the service and the full method as the method, as
// a method's breaker does, not the full method as a service. WithService names the service of
// a bulkhead whose name is not a service (one shared by several): no method then.
func TestBulkheadNamedByAFullMethodNamesItsServiceAndMethod(t *testing.T) {
	const method = "/" + svc + "/Compare"
	for _, tt := range []struct {
		name, bulkhead          string
		opts                    []bulkhead.Option
		wantService, wantMethod string
	}{
		{name: "service", bulkhead: svc, wantService: svc},
		{name: "full method", bulkhead: method, wantService: svc, wantMethod: method},
		{name: "full method, WithService", bulkhead: method, opts: []bulkhead.Option{bulkhead.WithService(svc)}, wantService: svc, wantMethod: method},
		{name: "shared, WithService", bulkhead: "shared-pool", opts: []bulkhead.Option{bulkhead.WithService(svc)}, wantService: svc},
		{name: "shared", bulkhead: "shared-pool", wantService: "shared-pool"},
		{name: "malformed", bulkhead: "/NoService", wantService: "/NoService"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := new(testkit.Recorder)
			b, err := bulkhead.New(tt.bulkhead, bulkhead.Config{
				MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, MinLimit: 1, InitialLimit: 2},
			}, append(tt.opts, bulkhead.WithObserver(rec))...)
			if err != nil {
				t.Fatal(err)
			}
			if b.Name() != tt.bulkhead {
				t.Errorf("Name() = %q, want %q", b.Name(), tt.bulkhead)
			}
			ctx := context.Background()
			for range 2 {
				if err := b.Acquire(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var levels []observe.Level
			b.Levels(func(l observe.Level) bool { levels = append(levels, l); return true })
			err = b.Acquire(ctx)
			var rej *codes.Rejection
			if !errors.As(err, &rej) || rej.Service != tt.wantService {
				t.Errorf("Acquire on a full bulkhead: %#v, want a rejection of service %q", err, tt.wantService)
			}
			// A drop moves the limit (2 x 0.9 rounds down to 1): LimitChanged.
			b.ReleaseWith(time.Millisecond, status.Error(grpccodes.Unavailable, "down"))
			b.Release()
			evs := rec.Events(observe.Rejected, observe.LimitChanged)
			if len(evs) != 2 {
				t.Fatalf("events %+v, want a rejection and a limit change", evs)
			}
			for _, e := range evs {
				if e.Service != tt.wantService || e.Method != tt.wantMethod {
					t.Errorf("%v event names service %q method %q, want %q %q", e.Kind, e.Service, e.Method, tt.wantService, tt.wantMethod)
				}
			}
			if len(levels) != 2 {
				t.Fatalf("levels %+v, want in flight and capacity", levels)
			}
			for _, l := range levels {
				if l.Service != tt.wantService || l.Method != tt.wantMethod {
					t.Errorf("%v level names service %q method %q, want %q %q", l.Kind, l.Service, l.Method, tt.wantService, tt.wantMethod)
				}
			}
		})
	}
}
