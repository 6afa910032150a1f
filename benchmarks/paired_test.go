package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunPaired runs the paired layout briefly and checks its output: a round marker before
// each round (numbered from FirstRound), every chain once per round in an order rotated by one, the calls counted, and
// every metric present and plausible.
func TestRunPaired(t *testing.T) {
	srv := startServer(t)
	chains := []string{"raw", ControlChain, "suite"}
	const calls, rounds, warmup, first = 20, 3, 10, 5
	var out bytes.Buffer
	err := RunPaired(context.Background(), PairedConfig{Calls: calls, Rounds: rounds, Warmup: warmup, FirstRound: first, Chains: chains, Server: srv}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := srv.Requests(), int64(len(chains)*(warmup+rounds*calls)); got != want {
		t.Errorf("server got %d requests, want %d (warm-up and every block's calls)", got, want)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(l, "# round ") || strings.HasPrefix(l, "Benchmark") {
			lines = append(lines, l)
		}
	}
	if len(lines) != rounds*(1+len(chains)) {
		t.Fatalf("%d round and result lines, want %d:\n%s", len(lines), rounds*(1+len(chains)), out.String())
	}
	for k := range rounds {
		r := first + k
		block := lines[k*(1+len(chains)):]
		if want := fmt.Sprintf("# round %d", r); block[0] != want {
			t.Errorf("line %q, want %q", block[0], want)
		}
		for i := range chains {
			f := strings.Fields(block[1+i])
			wantName := PairedBenchmark + "/chain=" + chains[(i+r)%len(chains)] + "-"
			if len(f) < 8 || !strings.HasPrefix(f[0], wantName) || f[1] != strconv.Itoa(calls) {
				t.Fatalf("round %d, line %d: %q, want %s<procs> with %d calls and 4 metrics", r, i, block[1+i], wantName, calls)
			}
			metrics := map[string]float64{}
			for j := 2; j+1 < len(f); j += 2 {
				v, err := strconv.ParseFloat(f[j], 64)
				if err != nil {
					t.Fatalf("%q: %v", block[1+i], err)
				}
				metrics[f[j+1]] = v
			}
			// A unary call over bufconn allocates well over 50 objects (server included).
			if metrics["ns/op"] <= 0 || metrics["B/op"] <= 0 || metrics["allocs/op"] < 50 {
				t.Errorf("%q: implausible metrics %v", block[1+i], metrics)
			}
			if _, ok := metrics["cpu-ns/op"]; !ok && processCPU() > 0 {
				t.Errorf("%q: no cpu-ns/op", block[1+i])
			}
		}
	}
}

// TestRunPairedFails checks that a failing call ends the run with an error naming the chain,
// and that bad settings are refused with the field and the value.
func TestRunPairedFails(t *testing.T) {
	srv := startServer(t)
	srv.SetDown(true)
	var out bytes.Buffer
	err := RunPaired(context.Background(), PairedConfig{Calls: 5, Rounds: 2, Warmup: 1, Chains: []string{"raw"}, Server: srv}, &out)
	if err == nil || !strings.Contains(err.Error(), "chain raw") || !strings.Contains(err.Error(), "Unavailable") {
		t.Errorf("RunPaired against a downed server: %v, want an Unavailable error naming chain raw", err)
	}
	srv.SetDown(false)
	srv.ResetCounts()
	tests := []struct {
		cfg  PairedConfig
		want string
	}{
		{PairedConfig{Calls: -1}, "calls -1"},
		{PairedConfig{Rounds: -2}, "rounds -2"},
		{PairedConfig{Warmup: -3}, "warmup -3"},
		{PairedConfig{FirstRound: -4}, "first round -4"},
		{PairedConfig{Chains: []string{"raw", "nope"}}, `chain "nope"`},
		{PairedConfig{Chains: []string{"raw", "raw"}}, `chain "raw": named twice`},
		{PairedConfig{Latency: -time.Millisecond}, "latency -1ms"},
		{PairedConfig{Latency: 2 * time.Second}, "latency 2s"},
		{PairedConfig{Configured: "methodz"}, `configured "methodz": must be one of`},
		{PairedConfig{Configured: "methods", Size: -5}, "size -5"},
	}
	for _, tt := range tests {
		tt.cfg.Server = srv
		err := RunPaired(context.Background(), tt.cfg, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RunPaired(%+v) = %v, want an error containing %q", tt.cfg, err, tt.want)
		}
	}
	if srv.Requests() != 0 {
		t.Errorf("%d requests: a bad setting must be refused before any call", srv.Requests())
	}
}

// TestRunPairedConfigured runs the configured-size layout briefly: the suite chain is a suite
// (its calls reach the server and allocate more than raw's), and every chain calls the measured
// method once more than its warm-up, first (the configured ones, which the server answers
// Unimplemented, are not among its requests).
func TestRunPairedConfigured(t *testing.T) {
	srv := startServer(t)
	const calls, rounds, warmup, size = 10, 2, 5, 4
	chains := []string{"raw", "suite"}
	var out bytes.Buffer
	cfg := PairedConfig{Calls: calls, Rounds: rounds, Warmup: warmup, Chains: chains, Server: srv, Configured: "methods", Size: size}
	if err := RunPaired(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	// Per chain: the measured method once, the size-1 others (Unimplemented), the warm-up and
	// every block.
	if got, want := srv.Requests(), int64(len(chains)*(1+warmup+rounds*calls)); got != want {
		t.Errorf("server got %d Compare requests, want %d", got, want)
	}
	allocs := map[string]float64{}
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || !strings.HasPrefix(f[0], PairedBenchmark+"/chain=") {
			continue
		}
		name := strings.TrimPrefix(f[0], PairedBenchmark+"/chain=")
		name = name[:strings.LastIndex(name, "-")]
		v, err := strconv.ParseFloat(f[len(f)-2], 64)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		allocs[name] = v
	}
	if len(allocs) != 2 || allocs["suite"] <= allocs["raw"] {
		t.Errorf("allocations per call %v: want raw and suite, the suite above raw", allocs)
	}
}

// TestGCDither checks the dither's garbage: uniform over one cycle's allocation (its mean about
// half a cycle, none beyond one), and the cycle's length learnt from blocks with at least two
// collections.
func TestGCDither(t *testing.T) {
	g := &gcDither{rng: rand.New(rand.NewPCG(1, 2))}
	g.observe(10<<20, 1)
	if g.perCycle != 0 {
		t.Fatalf("one collection set the cycle to %.0f bytes, want it ignored", g.perCycle)
	}
	g.observe(8<<20, 4)
	if g.perCycle != 2<<20 {
		t.Fatalf("cycle %.0f bytes after 8 MiB over 4 collections, want 2 MiB", g.perCycle)
	}
	g.observe(12<<20, 4) // 3 MiB: smoothed to 0.8·2 + 0.2·3 = 2.2 MiB
	if want := 2.2 * (1 << 20); math.Abs(g.perCycle-want) > 1 {
		t.Fatalf("cycle %.0f bytes, want %.0f", g.perCycle, want)
	}
	g.perCycle = 4 << 20
	const resets = 60
	var sum, most float64
	for range resets {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		g.reset()
		runtime.ReadMemStats(&b)
		d := float64(b.TotalAlloc - a.TotalAlloc)
		sum += d
		most = max(most, d)
	}
	// Uniform over [0, 4 MiB): mean 2 MiB, standard error 1.15/√60 ≈ 0.15 MiB.
	if mean := sum / resets / (1 << 20); mean < 1.4 || mean > 2.6 {
		t.Errorf("dither allocated %.2f MiB on average, want about 2 (half a 4 MiB cycle)", mean)
	}
	if most > 4.25*(1<<20) {
		t.Errorf("dither allocated %.2f MiB once, want at most one 4 MiB cycle", most/(1<<20))
	}
}

// TestRunPairedShuffle checks that a shuffled run still measures every chain once per round,
// in orders that are not all the rotated one.
func TestRunPairedShuffle(t *testing.T) {
	srv := startServer(t)
	chains := []string{"raw", ControlChain, "suite", "grpcmw_retry"}
	const rounds = 6
	var out bytes.Buffer
	if err := RunPaired(context.Background(), PairedConfig{Calls: 3, Rounds: rounds, Warmup: 1, Chains: chains, Shuffle: true, Seed: 3, Server: srv}, &out); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, l := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "# round "):
			got = append(got, nil)
		case strings.HasPrefix(l, PairedBenchmark+"/chain="):
			name, _, _ := strings.Cut(strings.TrimPrefix(strings.Fields(l)[0], PairedBenchmark+"/chain="), "-")
			got[len(got)-1] = append(got[len(got)-1], name)
		}
	}
	if len(got) != rounds {
		t.Fatalf("%d rounds, want %d", len(got), rounds)
	}
	rotated := 0
	for r, order := range got {
		if len(order) != len(chains) {
			t.Fatalf("round %d ran %v, want each of %v once", r, order, chains)
		}
		for _, c := range chains {
			if !slices.Contains(order, c) {
				t.Fatalf("round %d ran %v, want each of %v once", r, order, chains)
			}
		}
		if order[0] == chains[r%len(chains)] && order[1] == chains[(r+1)%len(chains)] {
			rotated++
		}
	}
	if rotated == rounds {
		t.Errorf("every shuffled round ran in the rotated order: %v", got)
	}
}

// TestRunPairedLatency checks that a latency slows every call by at least that much (a lower
// bound only: a busy machine adds to it), and that the server answers at once again after.
func TestRunPairedLatency(t *testing.T) {
	srv := StartServer(1)
	defer srv.Stop()
	const latency = 3 * time.Millisecond
	var out bytes.Buffer
	if err := RunPaired(context.Background(), PairedConfig{Calls: 4, Rounds: 2, Warmup: 1, Chains: []string{"raw", "suite"}, Server: srv, Latency: latency}, &out); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkUnaryDLPaired/") {
			continue
		}
		lines++
		if ns, _ := strconv.ParseFloat(f[2], 64); ns < float64(latency) {
			t.Errorf("%s: %.0f ns/op, under the server's latency of %v", f[0], ns, latency)
		}
	}
	if lines != 4 {
		t.Fatalf("%d result lines, want 4:\n%s", lines, out.String())
	}
	if d := time.Duration(srv.latency.Load()); d != 0 {
		t.Errorf("latency left at %v after the run", d)
	}
}
