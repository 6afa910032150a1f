package throttle

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

func mustNew(b *testing.B, cfg Config, opts ...Option) *Throttle {
	b.Helper()
	th, err := New(svc, cfg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return th
}

// allowRecorder is the policy's hot path, so the lock-free window can be measured against a
// mutex-guarded one.
type allowRecorder interface {
	Allow(method string) error
	Record(v codes.Verdict)
}

// BenchmarkAllowRecord measures one admitted call, Allow then Record, with the real clock and
// the default rand. "healthy" has an empty window (p = 0, no draw); "throttling" has a window
// at the cap with a draw that admits, so every Allow draws. "lockfree" is the same policy over
// a lock-free window (atomicThrottle), the alternative the mutex window was measured against.
func BenchmarkAllowRecord(b *testing.B) {
	healthy := mustNew(b, Config{})
	throttling := mustNew(b, Config{Window: time.Hour}, WithRand(func() float64 { return 0.99 }))
	atomicHealthy := newAtomicThrottle(Config{})
	atomicThrottling := newAtomicThrottle(Config{Window: time.Hour})
	atomicThrottling.rand = func() float64 { return 0.99 }
	for range 1000 {
		throttling.Record(failed)
		atomicThrottling.Record(failed)
	}
	for _, bc := range []struct {
		name string
		th   allowRecorder
	}{
		{"healthy", healthy},
		{"throttling", throttling},
		{"lockfree/healthy", atomicHealthy},
		{"lockfree/throttling", atomicThrottling},
	} {
		// A healthy throttle records accepts, so it stays healthy; a throttling one records
		// failures, so it stays at the cap.
		v := accepted
		if strings.HasSuffix(bc.name, "throttling") {
			v = failed
		}
		b.Run(bc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bc.th.Allow(method) == nil {
					bc.th.Record(v)
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if bc.th.Allow(method) == nil {
						bc.th.Record(v)
					}
				}
			})
		})
	}
}

// BenchmarkReject measures a local rejection: the *codes.Rejection is allocated.
func BenchmarkReject(b *testing.B) {
	th := mustNew(b, Config{Window: time.Hour}, WithRand(func() float64 { return 0 }))
	for range 1000 {
		th.Record(failed)
	}
	b.ReportAllocs()
	for b.Loop() {
		if th.Allow(method) == nil {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkUnary compares a unary call over bufconn through the throttle with a raw one.
func BenchmarkUnary(b *testing.B) {
	testkit.BenchUnaryVsRaw(b, "throttle", mustNew(b, Config{}).Unary())
}

// BenchmarkInterceptor is the interceptor's own cost, with an invoker that does nothing.
func BenchmarkInterceptor(b *testing.B) {
	ic := mustNew(b, Config{}).Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = ic(ctx, testkit.MethodCompare, nil, nil, nil, invoker)
		}
	})
}

// atomicThrottle is the policy over a lock-free window: per bucket, two words that pack the
// epoch they count for (high 32 bits) with the count (low 32), claimed by compare-and-swap when
// their epoch has left the window, and summed on every read. It is the alternative the mutex
// window was measured against; a read costs a scan of 40 words.
type atomicThrottle struct {
	cfg     Config
	rand    func() float64
	origin  time.Time
	width   int64
	buckets [numBuckets]struct{ requests, accepts atomic.Uint64 }
}

func newAtomicThrottle(cfg Config) *atomicThrottle {
	cfg = Normalize(cfg)
	return &atomicThrottle{
		cfg: cfg, origin: time.Now(), rand: func() float64 { return 0.5 },
		width: max((int64(cfg.Window)+numBuckets-1)/numBuckets, 1),
	}
}

func (t *atomicThrottle) epoch() uint32 { return uint32(int64(time.Since(t.origin)) / t.width) }

func bumpWord(word *atomic.Uint64, e uint32) {
	for {
		old := word.Load()
		if we := uint32(old >> 32); we == e || int32(we-e) > 0 {
			word.Add(1)
			return
		}
		if word.CompareAndSwap(old, uint64(e)<<32|1) {
			return
		}
	}
}

func liveCount(word uint64, e uint32) int64 {
	if int32(e-uint32(word>>32)) < numBuckets {
		return int64(word & (1<<32 - 1))
	}
	return 0
}

func (t *atomicThrottle) Allow(string) error {
	e := t.epoch()
	var r, a int64
	for i := range t.buckets {
		r += liveCount(t.buckets[i].requests.Load(), e)
		a += liveCount(t.buckets[i].accepts.Load(), e)
	}
	p := 0.0
	if r > 0 {
		p = min(max((float64(r)-t.cfg.K*float64(a))/float64(r+1), 0), t.cfg.MaxRejectProbability)
	}
	if p == 0 || t.rand() >= p {
		return nil
	}
	bumpWord(&t.buckets[e%numBuckets].requests, e)
	return ErrThrottled
}

func (t *atomicThrottle) Record(v codes.Verdict) {
	if v.Class.Ignored() {
		return
	}
	e := t.epoch()
	b := &t.buckets[e%numBuckets]
	bumpWord(&b.requests, e)
	if !v.Class.Failure() {
		bumpWord(&b.accepts, e)
	}
}

// BenchmarkClock is what reading the real clock costs: time.Now reads the wall and the
// monotonic clocks, time.Since only the monotonic one, which is what Allow and Record read once
// each with the real clock.
func BenchmarkClock(b *testing.B) {
	origin := time.Now()
	b.Run("Now", func(b *testing.B) {
		var sink time.Duration
		for b.Loop() {
			sink += time.Now().Sub(origin) //nolint:staticcheck // time.Now is what is measured.
		}
		_ = sink
	})
	b.Run("Since", func(b *testing.B) {
		var sink time.Duration
		for b.Loop() {
			sink += time.Since(origin)
		}
		_ = sink
	})
}
