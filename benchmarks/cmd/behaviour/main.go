// Command behaviour prints benchmarks/results/behaviour.md (make behaviour): bulwark's behaviour
// against a faulty FaceMatchService over bufconn:
// attempts per call and success share at several failure rates, with and without the retry
// budget; the cost of a call refused by an open breaker; the requests that reach a downed
// service while its breaker is open.
//
//	go run ./cmd/behaviour [-calls 10000] [-failfast 100000] [-leak 2s] [-repo ..]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/bulwarkrpc/bulwark/benchmarks"
	"github.com/bulwarkrpc/bulwark/benchmarks/internal/runinfo"
)

func main() {
	calls := flag.Int("calls", 10000, "logical calls per fault run")
	failfast := flag.Int("failfast", 100000, "calls timed against the open breaker")
	leak := flag.Duration("leak", 2*time.Second, "how long to call the downed service in the leak run")
	recovery := flag.Duration("recovery", 30*time.Millisecond, "breaker recovery timeout in the leak run")
	repo := flag.String("repo", "..", "root of the bulwark repository (for the commit in the head)")
	flag.Parse()
	ri := runinfo.Start("Behaviour under faults", "make -C benchmarks behaviour", *repo)
	ri.Head(os.Stdout)
	if err := run(*calls, *failfast, *leak, *recovery); err != nil {
		fmt.Fprintln(os.Stderr, "behaviour:", err)
		os.Exit(1)
	}
	ri.Foot(os.Stdout)
}

func run(calls, failfast int, leak, recovery time.Duration) error {
	ctx := context.Background()
	srv := benchmarks.StartServer(42)
	defer srv.Stop()

	fmt.Printf("## Attempts per call under transient failure (Unavailable), %d serial calls per row\n\n", calls)
	fmt.Printf("Backoffs of the ml profile scaled by %g (1s → %v); breaker recovery scaled by %g (30s → %v).\n\n",
		benchmarks.BackoffScale, time.Duration(float64(time.Second)*benchmarks.BackoffScale),
		benchmarks.RecoveryScale, time.Duration(float64(30*time.Second)*benchmarks.RecoveryScale))
	fmt.Println("| chain | failure | attempts/call | calls OK | rejected by breaker | wall time |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, fc := range benchmarks.FaultChains() {
		for _, p := range []float64{0, 0.1, 0.5, 1} {
			r, err := benchmarks.RunFaults(ctx, srv, fc, p, calls)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %.0f %% | %.3f | %.2f %% | %d | %v |\n", r.Chain, p*100, r.AttemptsPerCall(),
				100*r.SuccessShare(), r.Rejected, r.Elapsed.Round(time.Millisecond))
		}
	}

	ff, err := benchmarks.RunFailFast(ctx, srv, failfast)
	if err != nil {
		return err
	}
	fmt.Printf("\n## Fail fast: %d calls to a downed service\n\n", ff.Calls)
	fmt.Println("| call | ns/call | allocs/call | requests that reached the service |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	fmt.Printf("| suite, breaker open (rejected) | %.0f | %.1f | %d |\n", ff.RejectedNs, ff.RejectedAllocs, ff.Reached)
	fmt.Printf("| raw call, service answers Unavailable | %.0f | %.1f | %d |\n", ff.RawNs, ff.RawAllocs, ff.Calls)

	lk, err := benchmarks.RunLeak(ctx, srv, leak, recovery)
	if err != nil {
		return err
	}
	fmt.Printf("\n## Downed service, breaker cycling open → half-open (recovery %v), serial calls for %v\n\n", lk.RecoveryTimeout, lk.Duration)
	fmt.Println("| calls | rejected by breaker | requests that reached the service | share reaching | recovery periods |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: |")
	fmt.Printf("| %d | %d | %d | %.3f %% | %d |\n", lk.Calls, lk.Rejected, lk.Reached,
		100*float64(lk.Reached)/float64(lk.Calls), int(lk.Duration/lk.RecoveryTimeout))
	return nil
}
