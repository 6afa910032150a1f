package benchmarks

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/bulwarkrpc/bulwark/section"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// BenchmarkSuiteOwn is the suite's own work per call, without gRPC: each suite chain's unary
// interceptor around an invoker that only does what grpc-go does with the call's context
// (reads its deadline and its Done channel) and succeeds, every call with a 10 s caller
// deadline shared by SharedDeadlineCalls calls (without gRPC there is no header to compress,
// and a fresh deadline per call would add the caller's own context to every chain). The
// interceptor is given a real connection (warmConn), so that the suite reads grpc's
// per-attempt timeout from it as in place. chain=raw is that invoker alone. Its CPU time per
// call, taken against BenchmarkUnaryDL's raw call, is the suite's share of a call's CPU,
// measured without the noise of the whole gRPC round trip.
func BenchmarkSuiteOwn(b *testing.B) { ownWork(b, 0) }

// BenchmarkSuiteOwnCold is BenchmarkSuiteOwn with the caches as a gRPC round trip leaves
// them: before each call, untimed, the caller reads testkit.ColdBytes of other memory, which
// evicts the suite's code and data from the core's L1 and L2 caches, as the ~35 µs of grpc's
// client, transport and server work between two calls does. Only the interceptor call is
// timed (two clock readings around it, the same for every chain): the cold-ns/op metric.
// ns/op is not the suite's: it is dominated by the eviction. The hot loop of
// BenchmarkSuiteOwn keeps everything in L1 and prices the suite's work at what it costs in
// place only when nothing else runs between calls; the difference is the price of the
// suite's footprint, the cache lines of code and data a call touches.
func BenchmarkSuiteOwnCold(b *testing.B) { ownWork(b, testkit.ColdBytes) }

// ownWork runs BenchmarkSuiteOwn, reading evict bytes of other memory before each call when
// evict is not 0 (BenchmarkSuiteOwnCold).
func ownWork(b *testing.B, evict int) {
	sc, err := SuiteChains()
	if err != nil {
		b.Fatal(err)
	}
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			b.Fatal("no deadline")
		}
		_ = ctx.Done()
		return nil
	}
	chains := append([]Chain{{Name: "raw"}}, sc...)
	chains = append(chains, policiesDirectChains(b)...)
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	const method = "/" + ServiceFaceMatch + "/Compare"
	srv := StartServer(1)
	defer srv.Stop()
	ev := testkit.NewEvictor(evict)
	for _, c := range chains {
		cc := warmConn(b, srv, req, c.Dial...)
		// The garbage of the chains before collected first, so that no chain pays for the
		// collection of another's (the suites without their service config allocate).
		runtime.GC()
		b.Run("chain="+c.Name, func(b *testing.B) {
			dl := callerDeadline{every: SharedDeadlineCalls}
			defer dl.stop()
			reply := new(kycv1.CompareResponse)
			call := func() {
				ctx := dl.next()
				var err error
				if c.Unary == nil {
					err = invoker(ctx, method, req, reply, cc)
				} else {
					err = c.Unary(ctx, method, req, reply, cc, invoker)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			if evict == 0 {
				cpu := startCPU()
				for b.Loop() {
					call()
				}
				cpu.report(b)
				return
			}
			var timed time.Duration
			for b.Loop() {
				ev.Evict()
				t0 := time.Now()
				call()
				timed += time.Since(t0)
			}
			b.ReportMetric(float64(timed.Nanoseconds())/float64(b.N), "cold-ns/op")
		})
	}
}

// BenchmarkSuiteOwnConfigured is BenchmarkSuiteOwn's suite chain (BenchConfig + promobs, on a
// connection dialed with its service config) while 1, 100 or 10 000 methods or services are
// configured and each has been called once, as in the report's configured-size layout
// (cmd/paired -configured) but without gRPC: the suite's own work per call must not grow with
// the configuration, and without the gRPC round trip's noise a growth of 100 ns shows.
func BenchmarkSuiteOwnConfigured(b *testing.B) {
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		_ = ctx.Done()
		return nil
	}
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	const method = "/" + ServiceFaceMatch + "/Compare"
	srv := StartServer(1)
	defer srv.Stop()
	for _, kind := range []string{"methods", "services"} {
		for _, n := range []int{1, 100, 10000} {
			s, extra := configuredSuite(b, kind, n)
			unary := s.Unary()
			so, err := s.ServiceConfigOption("")
			if err != nil {
				b.Fatal(err)
			}
			cc := warmConn(b, srv, req, so)
			reply := new(kycv1.CompareResponse)
			// The measured method first, as a service's own methods come before a flood of
			// others: it keeps a method label of its own (promobs labels the first MaxMethods
			// names it sees; a later one costs a lookup more per event, see promobs).
			if err := unary(context.Background(), method, req, reply, cc, invoker); err != nil {
				b.Fatal(err)
			}
			for _, em := range extra {
				if err := unary(context.Background(), em, req, reply, cc, invoker); err != nil {
					b.Fatal(err)
				}
			}
			// The set-up's garbage (a configuration of 10 000 services is hundreds of MB)
			// collected before the measurement, not by a collection running beside it.
			runtime.GC()
			b.Run("configured="+kind+"/n="+strconv.Itoa(n), func(b *testing.B) {
				dl := callerDeadline{every: SharedDeadlineCalls}
				defer dl.stop()
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if err := unary(dl.next(), method, req, reply, cc, invoker); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			})
			_ = s.Close()
		}
	}
}

// warmConn dials srv with opts (a suite's service config) and makes one call on the connection
// without interceptors, which gets grpc its service config; the connection is closed when b
// ends.
func warmConn(b *testing.B, srv *Server, req *kycv1.CompareRequest, opts ...grpc.DialOption) *grpc.ClientConn {
	b.Helper()
	cc, err := srv.Dial(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	if _, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	return cc
}

// scratch is policiesDirect's per-call storage, pooled as the suite's is.
type scratch struct {
	md   metadata.MD
	opts []grpc.CallOption
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// The policies policiesDirect can leave out, and the chain names of BenchmarkSuiteOwn and
// BenchmarkSuiteOwnCold that leave out each (policiesDirectChains).
const (
	withoutDeadline = 1 << iota
	withoutLimiter
	withoutBreaker
	withoutBulkhead
	withoutEvents // the promobs events and the classifier
	withoutAll    = withoutDeadline | withoutLimiter | withoutBreaker | withoutBulkhead | withoutEvents
)

// policiesDirectChains is policies_direct and, for the report's share of each policy in it,
// policies_direct without each one (policies_no_<policy>) and without all of them
// (policies_none: the clock readings, the pooled trailer option and the invoker).
func policiesDirectChains(b *testing.B) []Chain {
	cs := []Chain{{Name: "policies_direct", Unary: policiesDirect(b, 0)}}
	for _, w := range []struct {
		name    string
		without int
	}{
		{"deadline", withoutDeadline}, {"limiter", withoutLimiter}, {"breaker", withoutBreaker},
		{"bulkhead", withoutBulkhead}, {"events", withoutEvents},
	} {
		cs = append(cs, Chain{Name: "policies_no_" + w.name, Unary: policiesDirect(b, w.without)})
	}
	return append(cs, Chain{Name: "policies_none", Unary: policiesDirect(b, withoutAll)})
}

// policiesDirect is the floor of the suite's own work: the policies of BenchConfig's suite
// called directly in one function, without the suite (its chain, runner or retry loop): the
// deadline step's DeadlineAt (the 8 s budget as its cap), the rate limiter's EnterAt with the
// call's start, the breaker's and the bulkhead's Enter and Exit, the classifier, a trailer
// option on pooled storage, and the AttemptFinished and CallFinished events to promobs, with the
// DeadlineApplied and the breaker's own. No retry loop, no retry budget. The
// policies_direct chain of BenchmarkSuiteOwn and BenchmarkSuiteOwnCold: what the suite's own
// machinery costs around its policies is the difference. The policies whose bits are set in
// without are left out; with withoutEvents set nothing is classified or observed.
func policiesDirect(b *testing.B, without int) grpc.UnaryClientInterceptor {
	m, err := promobs.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	sink := m.ForMethod(ServiceFaceMatch, "/"+ServiceFaceMatch+"/Compare")
	if without&withoutEvents != 0 {
		sink = nil
	}
	br, err1 := breaker.New(ServiceFaceMatch, MLBreaker(1), breaker.WithObserver(sink))
	bh, err2 := bulkhead.New(ServiceFaceMatch, benchBulkhead)
	rl, err3 := ratelimit.New(ServiceFaceMatch, nil, benchRateLimit)
	dl, err4 := deadline.New(deadline.Config{Default: benchDeadline.Default, Max: BenchConfig().Budget}, deadline.WithObserver(sink))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		b.Fatal(err)
	}
	cl := codes.Default()
	event := func(kind observe.Kind, policy string, start, end time.Time, method string, v codes.Verdict) observe.Event {
		return observe.Event{
			Kind: kind, Time: end, Service: ServiceFaceMatch, Method: method, Policy: policy, Attempt: 1,
			Code: v.Code, Class: v.Class, Duration: end.Sub(start),
		}
	}
	// gate is one of the gates, or nil when left out.
	gate := func(g section.Gate, bit int) section.Gate {
		if without&bit != 0 {
			return nil
		}
		return g
	}
	gates := [...]section.Gate{gate(br, withoutBreaker), gate(bh, withoutBulkhead)}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		if without&withoutDeadline == 0 {
			_, _ = dl.DeadlineAt(ctx, method, start)
		}
		var passes [len(gates) + 1]section.Pass
		if without&withoutLimiter == 0 {
			p, err := rl.EnterAt(ctx, method, opts, start)
			if err != nil {
				return err
			}
			passes[len(gates)] = p
		}
		for i, g := range gates {
			if g == nil {
				continue
			}
			p, err := g.Enter(ctx, method, opts)
			if err != nil {
				return err
			}
			passes[i] = p
		}
		sc := scratchPool.Get().(*scratch)
		o := append(append(sc.opts[:0], opts...), grpc.Trailer(&sc.md))
		err := invoker(ctx, method, req, reply, cc, o...)
		md := sc.md
		sc.md = nil
		clear(o)
		sc.opts = o[:0]
		scratchPool.Put(sc)
		for i := len(gates) - 1; i >= 0; i-- {
			if gates[i] != nil {
				gates[i].Exit(ctx, method, opts, passes[i], err, false)
			}
		}
		if without&withoutLimiter == 0 {
			rl.Exit(ctx, method, opts, passes[len(gates)], err, false)
		}
		end := time.Now()
		if sink != nil {
			v := cl.ClassifyTrailer(err, md)
			sink.Observe(event(observe.AttemptFinished, observe.PolicyRetry, start, end, method, v))
			sink.Observe(event(observe.CallFinished, observe.PolicySuite, start, end, method, v))
		}
		return err
	}
}
