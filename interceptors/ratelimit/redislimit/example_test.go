package redislimit_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit/redislimit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Two replicas of a client share one limit of 5 calls per second. The limiter plugs into the
// ratelimit policy as its Limiter: ratelimit.New("kyc.v1.OCRService", lim, cfg).
func Example() {
	cfg := ratelimit.Config{
		Rate:    5,
		Burst:   2,
		MaxWait: 0,
		Redis: &ratelimit.RedisConfig{
			Addr:     os.Getenv("BULWARK_REDIS_ADDR"),
			Timeout:  50 * time.Millisecond,
			FailOpen: true, // when Redis is down, admit under a local limit of 5/s
		},
	}
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.LimiterDegraded {
			fmt.Println("degraded:", e.Reason)
		}
	})
	replicaA, err := redislimit.New("kyc.v1.OCRService", cfg, redislimit.WithObserver(sink))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer replicaA.Close()
	replicaB, err := redislimit.New("kyc.v1.OCRService", cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer replicaB.Close()

	ctx := context.Background()
	for _, l := range []*redislimit.Limiter{replicaA, replicaB, replicaA} {
		d, err := l.Take(ctx, cfg.MaxWait)
		fmt.Println(d.Allowed, d.RetryAfter > 0, err)
	}
	// With Redis up: true false <nil>, true false <nil>, false true <nil>
	// (the burst of 2 is shared by both replicas).
}
