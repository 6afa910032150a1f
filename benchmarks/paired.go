package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// HeadlineChains are the chains of the headline, raw (the baseline) first and its control
// opposite it in the cycle: the baseline is sampled at two points of each round, and the
// control never follows raw (a block that follows the same code finds its caches warm; measured
// right after raw, raw2 ran 2 % faster than raw, 0.975 [0.962–0.994] over 210 rounds, and
// 0.997 [0.973–1.014] placed here).
var HeadlineChains = []string{"raw", "suite", "suite_nosink", ControlChain, "suite_builtin", "failsafe", "grpcmw_retry", "timeout", "spin1us", "offpath", "suite_ownctx", "grpc_timeout", "suite_retry", "spin2us"}

// ControlChain is the raw call again on a connection of its own: an A/A control, whose ratio to
// raw shows the paired layout's own error (a connection's or a position's bias, the noise).
const ControlChain = "raw2"

// PairedBenchmark is the benchmark name of the paired layout's result lines.
const PairedBenchmark = "BenchmarkUnaryDLPaired"

// PairedConfig sets the paired layout's length. Zero fields take the defaults in brackets.
type PairedConfig struct {
	// Calls is the number of serial calls in one chain's block [2000].
	Calls int
	// Rounds is the number of rounds; each round runs one block of every chain [200].
	Rounds int
	// FirstRound numbers the first round, so that the rounds of several processes appended to
	// one file stay apart [0]. The chain order of round r is rotated by r.
	FirstRound int
	// Shuffle, when set, runs each round's chains in a random order (seeded by Seed) instead of
	// the rotated one. Rotation keeps the cyclic order, so each chain always follows the same
	// other chain, and whatever a block leaves behind (caches, the previous connection's
	// goroutines winding down) always lands on the same successor; a random order spreads it.
	Shuffle bool
	// Warmup is the number of calls each chain makes before the first round [3000].
	Warmup int
	// Chains names the chains measured, in the order of round 0 [HeadlineChains].
	Chains []string
	// Seed fixes the collector's dither (gcDither) and, with Shuffle, the chain orders [0].
	Seed uint64
	// Server is the server called [a new one, stopped at the end].
	Server *Server
	// Progress, when set, gets a line every 20 rounds.
	Progress io.Writer
	// DeadlineEvery is how many calls share one 10 s caller deadline; 0 or 1: a fresh one per
	// call, the layout of the verdicts (see callerDeadline) [0].
	DeadlineEvery int
	// Latency is how long the server takes to answer each call (Server.SetLatency): with a
	// millisecond or more, the regime of the ML services bulwark protects, where the client's
	// work is a small share of the call [0: at once].
	Latency time.Duration
	// Configured, when set ("methods" or "services"), makes the chain named suite the one of
	// ConfiguredSuite(Configured, Size) instead of BenchConfig's, and has every chain call
	// each extra method once before its warm-up (the server answers Unimplemented): the cost
	// against the size of the configuration, measured as the headline is [""].
	Configured string
	// Size is the number of methods or services Configured configures [1].
	Size int
}

func (c *PairedConfig) defaults() error {
	if c.Calls == 0 {
		c.Calls = 2000
	}
	if c.Rounds == 0 {
		c.Rounds = 200
	}
	if c.Warmup == 0 {
		c.Warmup = 3000
	}
	if len(c.Chains) == 0 {
		c.Chains = HeadlineChains
	}
	switch {
	case c.Calls < 1:
		return fmt.Errorf("benchmarks: paired calls %d: must be at least 1", c.Calls)
	case c.Rounds < 1:
		return fmt.Errorf("benchmarks: paired rounds %d: must be at least 1", c.Rounds)
	case c.FirstRound < 0:
		return fmt.Errorf("benchmarks: paired first round %d: must not be negative", c.FirstRound)
	case c.DeadlineEvery < 0:
		return fmt.Errorf("benchmarks: paired deadline-every %d: must not be negative", c.DeadlineEvery)
	case c.Warmup < 0:
		return fmt.Errorf("benchmarks: paired warmup %d: must not be negative", c.Warmup)
	case c.Latency < 0 || c.Latency > time.Second:
		return fmt.Errorf("benchmarks: paired latency %v: must be within 0 and 1s", c.Latency)
	case c.Size < 0:
		return fmt.Errorf("benchmarks: paired size %d: must not be negative", c.Size)
	case c.Configured != "" && !slices.Contains(ConfiguredKinds, c.Configured):
		return fmt.Errorf("benchmarks: paired configured %q: must be one of %q", c.Configured, ConfiguredKinds)
	}
	if c.Size == 0 {
		c.Size = 1
	}
	return nil
}

// pairedChain is one chain of the paired layout with its connection.
type pairedChain struct {
	name   string
	conn   *grpc.ClientConn
	client kycv1.FaceMatchServiceClient
}

// block is one chain's measurement in one round.
type block struct {
	wall, cpu      time.Duration
	mallocs, bytes uint64
}

// RunPaired measures the headline call (FaceMatchService.Compare over bufconn with a fresh 10 s
// caller deadline per call, or one per cfg.DeadlineEvery calls) through every chain of cfg in
// one process: one server, one connection per chain. After a warm-up, each round runs one block
// of cfg.Calls serial calls per chain, the chain order rotated by one each round (or shuffled:
// cfg.Shuffle). Before every block, untimed, runtime.GC collects the garbage so far, so that no
// block pays for another chain's, and gcDither puts the block at a random phase of the
// collector's cycle, so that it pays on average for the collections its own garbage causes.
// Neighbouring blocks share the machine's drift, so a chain's time over raw's in the same round
// is far steadier than across processes.
//
// It writes Go benchmark lines, a "# round N" line before each round's:
//
//	BenchmarkUnaryDLPaired/chain=suite-2  2000  36500 ns/op  37100 cpu-ns/op  10800 B/op  164.00 allocs/op
//
// ns/op is wall time, cpu-ns/op the process's CPU time (getrusage: every thread, the server's
// and the garbage collector's share too), B/op and allocs/op the process's
// runtime.MemStats TotalAlloc and Mallocs deltas over the block (as testing.B counts them,
// with two decimals), all per call. Any failed call, or a reply that is not the server's,
// ends the run with an error naming the chain.
func RunPaired(ctx context.Context, cfg PairedConfig, w io.Writer) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	all, err := AllChains()
	if err != nil {
		return err
	}
	var touch []string
	if cfg.Configured != "" {
		s, extra, err := ConfiguredSuite(cfg.Configured, cfg.Size)
		if err != nil {
			return err
		}
		defer func() { _ = s.Close() }()
		so, err := s.ServiceConfigOption("")
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(c Chain) bool { return c.Name == "suite" })
		if i < 0 {
			return errors.New("benchmarks: paired configured: no suite chain to replace")
		}
		all[i] = Chain{Name: "suite", Unary: s.Unary(), Dial: []grpc.DialOption{so}}
		touch = extra
	}
	srv := cfg.Server
	if srv == nil {
		srv = StartServer(1)
		defer srv.Stop()
	}
	srv.SetLatency(cfg.Latency)
	defer srv.SetLatency(0)
	chains := make([]pairedChain, 0, len(cfg.Chains))
	defer func() {
		for _, c := range chains {
			_ = c.conn.Close()
		}
	}()
	for _, name := range cfg.Chains {
		of := name
		if name == ControlChain {
			of = "raw"
		}
		i := slices.IndexFunc(all, func(c Chain) bool { return c.Name == of })
		if i < 0 {
			return fmt.Errorf("benchmarks: paired chain %q: not one of the benchmark chains", name)
		}
		if slices.ContainsFunc(chains, func(c pairedChain) bool { return c.name == name }) {
			return fmt.Errorf("benchmarks: paired chain %q: named twice", name)
		}
		cc, err := srv.Dial(all[i].DialOptions()...)
		if err != nil {
			return fmt.Errorf("benchmarks: paired chain %s: %w", name, err)
		}
		chains = append(chains, pairedChain{name: name, conn: cc, client: kycv1.NewFaceMatchServiceClient(cc)})
	}
	gc := &gcDither{rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))}
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for _, c := range chains {
		if len(touch) > 0 {
			// The measured method first, so that it keeps a method label of its own (promobs
			// labels the first 1 000 method names it sees); then every configured one, so
			// that per-method state exists for all of them.
			if _, err := serialCalls(ctx, c, req, 1, cfg.DeadlineEvery, gc); err != nil {
				return err
			}
			reply := new(kycv1.CompareResponse)
			for _, m := range touch {
				_ = c.conn.Invoke(ctx, m, req, reply)
			}
		}
		if _, err := serialCalls(ctx, c, req, cfg.Warmup, cfg.DeadlineEvery, gc); err != nil {
			return err
		}
	}
	procs := runtime.GOMAXPROCS(0)
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: github.com/bulwarkrpc/bulwark/benchmarks\n", runtime.GOOS, runtime.GOARCH)
	n := len(chains)
	order := make([]int, n)
	shuffle := rand.New(rand.NewPCG(cfg.Seed^0x0dde, cfg.Seed))
	for r := cfg.FirstRound; r < cfg.FirstRound+cfg.Rounds; r++ {
		fmt.Fprintf(w, "# round %d\n", r)
		for i := range order {
			order[i] = (i + r) % n
		}
		if cfg.Shuffle {
			shuffle.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, k := range order {
			c := chains[k]
			b, err := serialCalls(ctx, c, req, cfg.Calls, cfg.DeadlineEvery, gc)
			if err != nil {
				return err
			}
			per := func(x float64) float64 { return x / float64(cfg.Calls) }
			line := fmt.Sprintf("%s/chain=%s-%d\t%d\t%.0f ns/op", PairedBenchmark, c.name, procs, cfg.Calls, per(float64(b.wall)))
			if b.cpu > 0 {
				line += fmt.Sprintf("\t%.0f cpu-ns/op", per(float64(b.cpu)))
			}
			line += fmt.Sprintf("\t%.0f B/op\t%.2f allocs/op\n", per(float64(b.bytes)), per(float64(b.mallocs)))
			if _, err := io.WriteString(w, line); err != nil {
				return err
			}
		}
		if done := r + 1 - cfg.FirstRound; cfg.Progress != nil && (done%20 == 0 || done == cfg.Rounds) {
			fmt.Fprintf(cfg.Progress, "paired: round %d of %d done\n", done, cfg.Rounds)
		}
	}
	return nil
}

// serialCalls collects the garbage left so far and dithers the collector's phase (gcDither),
// untimed, then makes calls serial calls through c, every one with its caller deadline (every
// calls to a deadline, see callerDeadline), and measures them.
func serialCalls(ctx context.Context, c pairedChain, req *kycv1.CompareRequest, calls, every int, gc *gcDither) (block, error) {
	if err := ctx.Err(); err != nil {
		return block{}, err
	}
	var before, after runtime.MemStats
	gc.reset()
	runtime.ReadMemStats(&before)
	dl := callerDeadline{every: every}
	defer dl.stop()
	var callErr error
	cpu0 := processCPU()
	t0 := time.Now()
	for range calls {
		resp, err := c.client.Compare(dl.next(), req)
		if err != nil {
			callErr = err
			break
		}
		if resp.GetVerdict() != compareReply.GetVerdict() {
			callErr = fmt.Errorf("verdict %v, want %v", resp.GetVerdict(), compareReply.GetVerdict())
			break
		}
	}
	wall := time.Since(t0)
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&after)
	if callErr != nil {
		return block{}, fmt.Errorf("benchmarks: paired chain %s: %w", c.name, callErr)
	}
	if cpu0 == 0 {
		cpu = 0
	}
	gc.observe(after.TotalAlloc-before.TotalAlloc, after.NumGC-before.NumGC)
	return block{wall: wall, cpu: cpu, mallocs: after.Mallocs - before.Mallocs, bytes: after.TotalAlloc - before.TotalAlloc}, nil
}

// ditherSink keeps gcDither's garbage from being optimised away.
var ditherSink []byte //nolint:unused // written, never read: the write makes each chunk a heap allocation

// gcDither starts every block at a random phase of the garbage collector's cycle. A block that
// starts right after runtime.GC would always start at the same phase, and pay for
// floor(its garbage / the bytes allocated per cycle) collections: a chain allocating 7 % more
// than raw would, in a block of 2000 calls, most often pay for as many as raw, its extra
// garbage collected outside the timing. After runtime.GC, gcDither allocates a uniformly random
// share of one cycle's allocation as garbage, so that a block pays on average for exactly the
// collections its own garbage causes. One cycle's allocation is measured on the blocks
// themselves (bytes allocated over collections, smoothed); before any block has shown it, the
// heap goal's headroom over the live heap stands in. Not safe for concurrent use.
type gcDither struct {
	rng      *rand.Rand
	perCycle float64 // bytes allocated per collection, as measured
}

// reset collects the garbage and allocates the dither, untimed.
func (g *gcDither) reset() {
	runtime.GC()
	per := g.perCycle
	if per == 0 {
		sample := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 || sample[1].Value.Kind() != metrics.KindUint64 {
			return
		}
		if goal, live := sample[0].Value.Uint64(), sample[1].Value.Uint64(); goal > live {
			per = float64(goal - live)
		}
	}
	const chunk = 16 << 10
	for n := g.rng.Float64() * per; n >= chunk; n -= chunk {
		ditherSink = make([]byte, chunk)
	}
	ditherSink = nil
}

// observe notes that a block allocated bytes over gcs collections.
func (g *gcDither) observe(bytes uint64, gcs uint32) {
	if gcs < 2 {
		return // too few collections to tell a cycle's length
	}
	per := float64(bytes) / float64(gcs)
	if g.perCycle == 0 {
		g.perCycle = per
		return
	}
	g.perCycle = 0.8*g.perCycle + 0.2*per
}

// callerDeadline hands out the caller's context of each call: a 10 s deadline made right
// before the call and canceled after it (the usual `context.WithTimeout` at the call site), or,
// with every > 1, one 10 s deadline shared by that many calls (a request-scoped deadline that
// several calls spend). Not safe for concurrent use: one per goroutine.
//
// Which one matters through HPACK: grpc-go sends the time left as grpc-timeout, in whole
// microseconds for deadlines between 0.1 and 100 s. A deadline made right before the call
// gives nearly the same value every call ("9999999u"), which both ends keep in their header
// tables and send as an index; a shared one gives a new value every call, sent and decoded
// as a literal. A chain that makes its own per-attempt deadline (the suite's per-attempt
// timeout; failsafe-go's timeout is a timer and sends none) sends a repeating value in either
// case, so with a shared caller deadline it saves raw's literal: in the report of e069cbb, a
// bare 5 s context.WithTimeout around raw (the timeout chain) measured −1.1 % with a shared
// deadline and +3.8 % with a fresh one (the same context with a random microsecond jitter,
// whose value never repeats, +4.6 % with a shared one, in an experiment), and the full suite
// +6.6 % and +13.9 %. The fresh deadline is the layout the verdicts use: raw and every chain
// then send a repeating value, and a chain's own deadline is priced at what it costs.
type callerDeadline struct {
	every  int // calls per deadline; below 2: a fresh deadline per call
	ctx    context.Context
	cancel context.CancelFunc
	n      int
}

// SharedDeadlineCalls is the number of calls that share one caller deadline in the shared
// layout (PairedConfig.DeadlineEvery, cmd/paired -deadline-every).
const SharedDeadlineCalls = 500

func (d *callerDeadline) next() context.Context {
	if d.every < 2 || d.n%d.every == 0 {
		if d.cancel != nil {
			d.cancel()
		}
		d.ctx, d.cancel = context.WithTimeout(context.Background(), 10*time.Second)
	}
	d.n++
	return d.ctx
}

func (d *callerDeadline) stop() {
	if d.cancel != nil {
		d.cancel()
	}
}
