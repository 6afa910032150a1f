package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// A call whose deadline passes while its limiter decides (a fleet-wide store that answers
// late) is rejected as RATE_LIMITED (ResourceExhausted, ErrLimited), unary or stream, never
// failed with DeadlineExceeded, which the policies above would count against the service; it
// never reaches grpc, and each refusal emits one Rejected event.
func TestDeadlinePassedWhileTakingIsRateLimited(t *testing.T) {
	clk := clocktest.New(time.Time{})
	late := limiterFunc(func(ctx context.Context, _ time.Duration) (ratelimit.Decision, error) {
		clk.Advance(time.Second) // the store answers after the caller's deadline
		<-ctx.Done()
		return ratelimit.Decision{}, ctx.Err()
	})
	rec := &testkit.Recorder{}
	p, err := ratelimit.New(svc, late, ratelimit.Config{}, ratelimit.WithClock(clk), ratelimit.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		reached++
		return nil
	}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		reached++
		return nil, nil
	}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"unary", func(ctx context.Context) error {
			return p.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, invoker)
		}},
		{"stream", func(ctx context.Context) error {
			_, err := p.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
			return err
		}},
	}
	for _, c := range calls {
		name := c.name
		rec.Reset()
		ctx, cancel := clock.WithTimeout(context.Background(), clk, time.Second)
		err := c.call(ctx)
		cancel()
		if !errors.Is(err, ratelimit.ErrLimited) {
			t.Errorf("%s: err = %v, want ErrLimited", name, err)
			continue
		}
		code, info, _ := rejectionDetails(t, err)
		if code != grpccodes.ResourceExhausted || info.GetReason() != ratelimit.ReasonLimited {
			t.Errorf("%s: status %v reason %q, want ResourceExhausted %s", name, code, info.GetReason(), ratelimit.ReasonLimited)
		}
		if evs := rec.Events(observe.Rejected); len(evs) != 1 || evs[0].Reason != ratelimit.ReasonLimited {
			t.Errorf("%s: events %+v, want one Rejected %s", name, evs, ratelimit.ReasonLimited)
		}
	}
	if reached != 0 {
		t.Errorf("%d calls reached grpc, want none", reached)
	}
}

// Two users of a registry that ask for one shared name with the same rate but other bursts
// get two buckets, each of its own burst: a bucket is shared only by equal settings.
func TestRegistryUsersOtherBurstOtherBucket(t *testing.T) {
	reg := ratelimit.NewRegistry()
	a, b := reg.User(), reg.User()
	la, err := a.Local(ratelimit.Config{Rate: 10, Burst: 5, Shared: "x"})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Local(ratelimit.Config{Rate: 10, Burst: 2, Shared: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if lb == la || lb.Burst() != 2 {
		t.Fatalf("b at burst 2: same bucket as a's: %v, burst %d; want a bucket of its own of burst 2", lb == la, lb.Burst())
	}
}

// A burst of 1e9 is the largest valid one (the default burst of a rate of 1e9 or more); one
// more is refused, naming the field, the value and the rule.
func TestValidateLargestBurst(t *testing.T) {
	if err := (ratelimit.Config{Rate: 1, Burst: 1e9}).Validate(); err != nil {
		t.Errorf("Validate(burst 1e9) = %v, want nil", err)
	}
	if err := (ratelimit.Config{Rate: 1, Burst: 1e9 + 1}).Validate(); err == nil || err.Error() != "burst: 1000000001 is above 1e9" {
		t.Errorf("Validate(burst 1e9+1) = %v, want burst: 1000000001 is above 1e9", err)
	}
}
