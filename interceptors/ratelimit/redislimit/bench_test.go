package redislimit

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// BenchmarkTake compares an admitted Take against the local Redis with the in-process
// x/time/rate limiter, serially and under b.RunParallel; the limits are too high to deny.
// "degraded" is a fail-open Limiter whose Redis is unreachable, answering from its guard
// during the probe pause. The remote rate is MaxRate, the highest a fleet-wide bucket takes.
func BenchmarkTake(b *testing.B) {
	addr := sharedAddr(b)
	ctx := context.Background()
	remote := testLimiter(b, "bench", config(addr, prefix(b), MaxRate, 1e9)) // 1s timeout: measure, do not fail
	local := rate.NewLimiter(rate.Limit(1e9), 1e9)

	down := config("127.0.0.1:1", prefix(b), MaxRate, 1e9) // nothing listens on port 1
	down.Redis.FailOpen = true
	degraded := testLimiter(b, "bench", down, WithProbeInterval(time.Hour))
	_, _ = degraded.Take(ctx, 0) // fails, starts the pause

	takeRemote := func(l *Limiter) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d, err := l.Take(ctx, 0); err != nil || !d.Allowed {
					b.Fatalf("Take = %+v, %v", d, err)
				}
			}
		}
	}
	takeRemoteParallel := func(l *Limiter) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if d, err := l.Take(ctx, 0); err != nil || !d.Allowed {
						b.Errorf("Take = %+v, %v", d, err)
						return
					}
				}
			})
		}
	}
	b.Run("redis/serial", takeRemote(remote))
	b.Run("redis/cancelable", func(b *testing.B) { // a caller's context, as a gRPC call's is
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		b.ReportAllocs()
		for b.Loop() {
			if d, err := remote.Take(ctx, 0); err != nil || !d.Allowed {
				b.Fatalf("Take = %+v, %v", d, err)
			}
		}
	})
	b.Run("redis/parallel", takeRemoteParallel(remote))
	b.Run("local/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !local.AllowN(time.Now(), 1) {
				b.Fatal("denied")
			}
		}
	})
	b.Run("local/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !local.AllowN(time.Now(), 1) {
					b.Error("denied")
					return
				}
			}
		})
	})
	b.Run("degraded/serial", takeRemote(degraded))
	b.Run("degraded/parallel", takeRemoteParallel(degraded))
}
