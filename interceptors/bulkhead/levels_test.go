package bulkhead_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
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
			<-entered
			if n, c := inFlightAndCapacity(t, b); n != 1 || c != tt.wantCapacity {
				t.Errorf("during the call: in flight %v, capacity %v; want 1, %v", n, c, tt.wantCapacity)
			}
			close(release)
			if err := <-done; err != nil {
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
