// Command tail prints the tail-latency table of BENCHMARKS.md: the example orchestrator, built
// once and run as a subprocess (its flags and -json summary only), against its embedded stubs
// with latency spikes at several rates, with the built-in profiles and with hedging off; plus
// a service-wide slowdown (every call 5× slower, no spikes), where hedging must stay near one
// attempt per call.
//
//	go run ./cmd/tail [-n 1000] [-concurrency 16] [-spike 1s] [-latency 20ms] [-seed 1]
//
// The stubs inject no errors (-fail unavailable=0), so that every extra attempt is a hedge.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// hedgeOff turns hedging off for the three services, over the built-ins.
const hedgeOff = `services:
  kyc.v1.LivenessService: {hedge: off}
  kyc.v1.FaceMatchService: {hedge: off}
  kyc.v1.OCRService: {hedge: off}
`

// summary is the part of the orchestrator's -json output read here.
type summary struct {
	Total    int     `json:"total"`
	Failed   int     `json:"failed"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	Services map[string]struct {
		Calls    int `json:"calls"`
		Attempts int `json:"attempts"`
		Hedges   int `json:"hedges"`
	} `json:"services"`
}

func (s summary) attemptsPerCall() float64 {
	calls, attempts := 0, 0
	for _, v := range s.Services {
		calls += v.Calls
		attempts += v.Attempts
	}
	if calls == 0 {
		return 0
	}
	return float64(attempts) / float64(calls)
}

func main() {
	n := flag.Int("n", 1000, "verifications per run")
	concurrency := flag.Int("concurrency", 16, "verifications in flight")
	spike := flag.Duration("spike", time.Second, "length of a latency spike")
	latency := flag.Duration("latency", 20*time.Millisecond, "base latency of every request")
	seed := flag.Int("seed", 1, "seed of the stubs' faults")
	repo := flag.String("repo", "..", "root of the bulwark repository")
	flag.Parse()
	if err := run(*repo, *n, *concurrency, *spike, *latency, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "tail:", err)
		os.Exit(1)
	}
}

func run(repo string, n, concurrency int, spike, latency time.Duration, seed int) error {
	dir, err := os.MkdirTemp("", "bulwark-tail")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "orchestrator")
	build := exec.Command("go", "build", "-o", bin, "./examples/orchestrator")
	build.Dir, build.Stderr = repo, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the orchestrator: %w", err)
	}
	off := filepath.Join(dir, "hedge-off.yaml")
	if err := os.WriteFile(off, []byte(hedgeOff), 0o600); err != nil {
		return err
	}
	orch := func(lat time.Duration, rate float64, config string) (summary, error) {
		args := []string{"-json", "-fail", "unavailable=0", "-latency", lat.String(), "-spike", spike.String(),
			"-spike-rate", strconv.FormatFloat(rate, 'g', -1, 64), "-seed", strconv.Itoa(seed),
			"-n", strconv.Itoa(n), "-concurrency", strconv.Itoa(concurrency)}
		if config != "" {
			args = append(args, "-config", config)
		}
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			return summary{}, fmt.Errorf("orchestrator %v: %w", args, err)
		}
		var s summary
		if err := json.Unmarshal(out, &s); err != nil {
			return summary{}, fmt.Errorf("orchestrator %v: %w", args, err)
		}
		return s, nil
	}

	fmt.Printf("%d verifications from a cold start, %d in flight, %v base latency, %v spikes, seed %d; no injected errors.\n",
		n, concurrency, latency, spike, seed)
	fmt.Printf("Goal (issue 16): p99 ≤ 150ms up to 5%% spikes, ≤ 300ms at 8%%; attempts per call ≤ 1 + 1.5 × rate + 0.02; ≤ 1.05 under a slowdown.\n\n")
	fmt.Println("| scenario | built-ins p50 | p99 | max | attempts/call | hedge off p50 | p99 | max | attempts/call |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	row := func(name string, lat time.Duration, rate float64) error {
		on, err := orch(lat, rate, "")
		if err != nil {
			return err
		}
		noHedge, err := orch(lat, rate, off)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.0f ms | %.0f ms | %.0f ms | %.3f | %.0f ms | %.0f ms | %.0f ms | %.3f |\n", name,
			on.P50, on.P99, on.Max, on.attemptsPerCall(), noHedge.P50, noHedge.P99, noHedge.Max, noHedge.attemptsPerCall())
		return nil
	}
	for _, rate := range []float64{0, 0.01, 0.03, 0.05, 0.08, 0.10} {
		if err := row(fmt.Sprintf("spikes %g%%", rate*100), latency, rate); err != nil {
			return err
		}
	}
	return row(fmt.Sprintf("slowdown: every call %v, no spikes", 5*latency), 5*latency, 0)
}
