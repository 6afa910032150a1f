// Command paired runs the headline's paired layout (benchmarks.RunPaired): one process, one
// bufconn server, one connection per chain, and for each round one block of serial calls per
// chain, the order rotated each round (or shuffled: -shuffle) and the garbage collected between
// blocks. It writes Go benchmark lines with "# round N" markers to stdout, for cmd/report and
// benchstat.
//
//	go run ./cmd/paired -n 2000 -rounds 200 > results/paired.out
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/bulwarkrpc/bulwark/benchmarks"
)

func main() {
	n := flag.Int("n", 2000, "serial calls per chain per round (one block)")
	rounds := flag.Int("rounds", 200, "rounds; each runs one block of every chain")
	seed := flag.Uint64("seed", 1, "seed of the collector's dither between blocks")
	first := flag.Int("first-round", 0, "number of the first round (to append several processes' rounds to one file)")
	shuffle := flag.Bool("shuffle", false, "a random chain order each round instead of the rotated one")
	warmup := flag.Int("warmup", 3000, "calls per chain before the first round")
	every := flag.Int("deadline-every", 0, "calls that share one 10 s caller deadline (0 or 1: a fresh one per call; benchmarks.SharedDeadlineCalls for the shared layout)")
	latency := flag.Duration("latency", 0, "how long the server takes to answer each call (0: at once; 1ms: the ML services' regime)")
	configured := flag.String("configured", "", "methods or services: the suite chain is BenchConfig with -size of them configured (the cost against the configuration's size)")
	size := flag.Int("size", 1, "how many methods or services -configured configures")
	chains := flag.String("chains", strings.Join(benchmarks.HeadlineChains, ","), "comma-separated chains, raw (the baseline) among them")
	flag.Parse()
	// benchmarks.PairedConfig reads a zero field as its default (200 rounds, 2000 calls, 3000
	// warm-up calls, one method): a zero given here is refused, not run as that default.
	for _, f := range []struct {
		name string
		v    int
	}{{"n", *n}, {"rounds", *rounds}, {"warmup", *warmup}, {"size", *size}} {
		if f.v < 1 {
			fmt.Fprintf(os.Stderr, "paired: -%s %d: must be at least 1\n", f.name, f.v)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := benchmarks.PairedConfig{Calls: *n, Rounds: *rounds, FirstRound: *first, Warmup: *warmup, Seed: *seed, Shuffle: *shuffle, Progress: os.Stderr, DeadlineEvery: *every, Latency: *latency, Configured: *configured, Size: *size}
	for _, c := range strings.Split(*chains, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.Chains = append(cfg.Chains, c)
		}
	}
	if err := benchmarks.RunPaired(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "paired:", err)
		os.Exit(1)
	}
}
