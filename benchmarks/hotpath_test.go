package benchmarks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// both runs op serially as mode=serial and under b.RunParallel as mode=parallel.
func both(b *testing.B, name string, op func() bool) {
	b.Helper()
	b.Run(name+"/mode=serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !op() {
				b.Fatal("unexpected outcome")
			}
		}
	})
	b.Run(name+"/mode=parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !op() {
					b.Error("unexpected outcome")
					return
				}
			}
		})
	})
}

var errFail = errors.New("benchmarks: failure")

func mustBreaker(b *testing.B, cfg breaker.Config) *breaker.Breaker {
	b.Helper()
	br, err := breaker.New(ServiceFaceMatch, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkBreaker measures a breaker admitting a call and recording its success (closed), and
// rejecting a call (open). bulwark is measured with the ml profile's breaker (consecutive
// failures and a 20-call rate window) and with the consecutive rule alone (cfg=consecutive),
// gobreaker with its default consecutive rule, failsafe-go with a 5-failure threshold.
func BenchmarkBreaker(b *testing.B) {
	ok := func() error { return nil }
	okT := func() (struct{}, error) { return struct{}{}, nil }

	for _, bc := range []struct {
		name string
		cfg  breaker.Config
	}{{"ml", MLBreaker(1)}, {"consecutive", breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: 30 * time.Second}}} {
		br := mustBreaker(b, bc.cfg)
		both(b, "state=closed/impl=bulwark/cfg="+bc.name+"/op=allow_done", func() bool {
			p, err := br.Allow()
			p.Done(nil)
			return err == nil
		})
		both(b, "state=closed/impl=bulwark/cfg="+bc.name+"/op=execute", func() bool {
			return br.Execute(ok) == nil
		})
	}
	gb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{Name: ServiceFaceMatch, Timeout: 30 * time.Second})
	both(b, "state=closed/impl=gobreaker/op=execute", func() bool {
		_, err := gb.Execute(okT)
		return err == nil
	})
	gb2 := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{Name: ServiceFaceMatch, Timeout: 30 * time.Second})
	both(b, "state=closed/impl=gobreaker/op=allow_done", func() bool {
		done, err := gb2.Allow()
		if err != nil {
			return false
		}
		done(nil)
		return true
	})
	fcb := circuitbreaker.NewBuilder[any]().WithFailureThreshold(5).WithDelay(30 * time.Second).Build()
	both(b, "state=closed/impl=failsafe/op=allow_done", func() bool {
		if !fcb.TryAcquirePermit() {
			return false
		}
		fcb.RecordSuccess()
		return true
	})

	// Open: every call is refused.
	boAuto := mustBreaker(b, MLBreaker(1))
	for boAuto.State() == breaker.Closed {
		p, _ := boAuto.Allow()
		p.Done(status.Error(grpccodes.Unavailable, "down"))
	}
	both(b, "state=open/impl=bulwark/op=allow", func() bool {
		_, err := boAuto.Allow()
		return err != nil
	})
	gbo := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{Name: ServiceFaceMatch, Timeout: time.Hour})
	for gbo.State() == gobreaker.StateClosed {
		_, _ = gbo.Execute(func() (struct{}, error) { return struct{}{}, errFail })
	}
	both(b, "state=open/impl=gobreaker/op=execute", func() bool {
		_, err := gbo.Execute(okT)
		return err != nil
	})
	gbo2 := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{Name: ServiceFaceMatch, Timeout: time.Hour})
	for gbo2.State() == gobreaker.StateClosed {
		done, _ := gbo2.Allow()
		done(errFail)
	}
	both(b, "state=open/impl=gobreaker/op=allow", func() bool {
		_, err := gbo2.Allow()
		return err != nil
	})
	fcbo := circuitbreaker.NewBuilder[any]().WithFailureThreshold(5).WithDelay(time.Hour).Build()
	fcbo.Open()
	both(b, "state=open/impl=failsafe/op=allow", func() bool {
		return !fcbo.TryAcquirePermit()
	})
}

// BenchmarkBulkhead measures taking a free slot and giving it back.
func BenchmarkBulkhead(b *testing.B) {
	bh, err := bulkhead.New(ServiceFaceMatch, benchBulkhead)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	both(b, "impl=bulwark/op=try_acquire_release", func() bool {
		if !bh.TryAcquire() {
			return false
		}
		bh.Release()
		return true
	})
	both(b, "impl=bulwark/op=acquire_release", func() bool {
		if bh.Acquire(ctx) != nil {
			return false
		}
		bh.Release()
		return true
	})
	fb := fsbulkhead.New[any](1024)
	both(b, "impl=failsafe/op=try_acquire_release", func() bool {
		if !fb.TryAcquirePermit() {
			return false
		}
		fb.ReleasePermit()
		return true
	})
	ch := make(chan struct{}, 1024)
	both(b, "impl=chan/op=try_acquire_release", func() bool {
		select {
		case ch <- struct{}{}:
		default:
			return false
		}
		<-ch
		return true
	})
}

// BenchmarkLimiter measures taking one token from a bucket that has plenty (1e9/s, burst 1e9).
func BenchmarkLimiter(b *testing.B) {
	ctx := context.Background()
	loc := ratelimit.NewLocal(benchRateLimit.Rate, benchRateLimit.Burst)
	both(b, "impl=bulwark/op=take", func() bool {
		d, err := loc.Take(ctx, 0)
		return err == nil && d.Allowed
	})
	pol, err := ratelimit.New(ServiceFaceMatch, nil, benchRateLimit)
	if err != nil {
		b.Fatal(err)
	}
	both(b, "impl=bulwark/op=policy_allow", func() bool { return pol.Allow(ctx) == nil })
	xl := rate.NewLimiter(rate.Limit(benchRateLimit.Rate), benchRateLimit.Burst)
	both(b, "impl=xrate/op=allow", xl.Allow)
	fl := ratelimiter.NewBursty[any](1e9, time.Second)
	both(b, "impl=failsafe/op=try_acquire", fl.TryAcquirePermit)
}

// BenchmarkClassify measures the classifier on the outcomes an interceptor sees: success, a
// transient status, a status with RetryInfo pushback. status.Code is the floor: what any
// interceptor pays to read the code at all.
func BenchmarkClassify(b *testing.B) {
	c := codes.Default()
	unavailable := status.Error(grpccodes.Unavailable, "down")
	st, err := status.New(grpccodes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	pushback := st.Err()
	both(b, "err=nil/impl=bulwark", func() bool { return c.Classify(nil).Class == codes.Success })
	both(b, "err=unavailable/impl=bulwark", func() bool { return c.Classify(unavailable).Class == codes.Transient })
	both(b, "err=retryinfo/impl=bulwark", func() bool { return c.Classify(pushback).Pushback.Set })
	both(b, "err=unavailable/impl=status_code", func() bool { return status.Code(unavailable) == grpccodes.Unavailable })
}
