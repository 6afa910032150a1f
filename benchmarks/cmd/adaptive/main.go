// Command adaptive compares the adaptive bulkhead (aimd, gradient) with a fixed bulkhead and no
// bulkhead, against a FaceMatchService whose latency grows with its concurrency past a knee,
// under a closed loop of callers with a per-call deadline, and prints markdown: one table for
// the load its flags set, or with -doc the whole of benchmarks/results/adaptive.md (make
// adaptive): the set-up and three loads built from the flags' one, an overload (as given), a
// mild overload (a quarter of the base latency) and a cold start (the overload with the
// connection made by the first calls).
//
//	go run ./cmd/adaptive [-doc] [-clients 64] [-knee 8] [-base 8ms] [-deadline 50ms] [-warmup 1s] [-duration 4s] [-cold]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/bulwarkrpc/bulwark/benchmarks"
	"github.com/bulwarkrpc/bulwark/benchmarks/internal/runinfo"
)

func main() {
	l := benchmarks.DefaultLoad
	flag.IntVar(&l.Clients, "clients", l.Clients, "calling goroutines")
	flag.IntVar(&l.Knee, "knee", l.Knee, "concurrency past which the service's latency grows")
	flag.DurationVar(&l.Base, "base", l.Base, "the service's latency at or below the knee")
	flag.DurationVar(&l.Deadline, "deadline", l.Deadline, "deadline of each call")
	flag.DurationVar(&l.Warmup, "warmup", l.Warmup, "time not counted at the start of each run")
	flag.DurationVar(&l.Duration, "duration", l.Duration, "time counted per run")
	flag.DurationVar(&l.RejectPause, "reject-pause", l.RejectPause, "pause of a caller after a rejection")
	flag.BoolVar(&l.Cold, "cold", l.Cold, "let the first calls make the connection")
	doc := flag.Bool("doc", false, "print the whole results document: set-up, overload, mild overload, cold start")
	repo := flag.String("repo", "..", "root of the bulwark repository (for the commit in the document's head)")
	flag.Parse()

	if !*doc {
		table(l)
		return
	}
	ri := runinfo.Start("Adaptive bulkhead under overload", "make -C benchmarks adaptive", *repo)
	ri.Head(os.Stdout)
	setUp(l)
	mild := l
	mild.Base /= 4
	cold := l
	cold.Cold = true
	for i, s := range []struct {
		title string
		load  benchmarks.Load
	}{
		{"Overload", l},
		{"Mild overload", mild},
		{"Cold start: the overload, the first calls making the connection", cold},
	} {
		if i > 0 {
			fmt.Println()
		}
		fmt.Printf("## %s\n\n", s.title)
		table(s.load)
	}
	ri.Foot(os.Stdout)
}

// table runs every variant under l and prints their table under a line that gives l.
func table(l benchmarks.Load) {
	conn := "connection made before the load"
	if l.Cold {
		conn = "connection made by the first calls"
	}
	// Every caller in flight at once: each request takes base·max(1, clients/knee).
	full := time.Duration(float64(l.Base) * max(1, float64(l.Clients)/float64(l.Knee)))
	fmt.Printf("%d callers, deadline %v; service knee %d, base %v (at most %.0f calls/s; %d callers in flight take %v); %v counted after %v warmup; %s; GOMAXPROCS %d\n\n",
		l.Clients, l.Deadline, l.Knee, l.Base, float64(l.Knee)/l.Base.Seconds(), l.Clients,
		full, l.Duration, l.Warmup, conn, runtime.GOMAXPROCS(0))
	var rs []benchmarks.LimitResult
	for _, v := range benchmarks.LimitVariants(l) {
		r, err := benchmarks.RunLimit(context.Background(), l, v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "adaptive:", err)
			os.Exit(1)
		}
		rs = append(rs, r)
	}
	fmt.Print(benchmarks.LimitTable(rs))
}

// setUp prints what the document's runs do.
func setUp(l benchmarks.Load) {
	fmt.Printf(`The adaptive limit of `+"`interceptors/bulkhead`"+` (`+"`Config.Adaptive`"+`, algorithms aimd and gradient)
against a fixed bulkhead and no bulkhead, calling a FaceMatchService over bufconn whose latency
grows with its concurrency past a knee, as a GPU-bound model server's does.

- **Service** (`+"`KneeServer`"+` in benchmarks/adaptive.go): a request that arrives with n requests
  in flight (its own included) takes base·max(1, n/knee); throughput plateaus at knee/base. A
  request whose caller gave up is still served to the end (a model server does not stop a
  batch for one caller): that work is wasted.
- **Load**: %d goroutines, each calling in a loop, each call with a %v deadline; %v of warmup
  not counted, then %v counted. A caller refused by the bulkhead pauses %v before its next
  call (it would hand the error to its own caller; the pause keeps the callers from spinning on
  the CPUs the server needs).
- **Variants**: no bulkhead; a fixed bulkhead of 64, fail fast; AIMD with a latency threshold
  of 1.5·base; AIMD with no threshold, which only sees calls fail (here, past their deadline);
  the gradient with its defaults. The adaptive ones have MaxConcurrent 64 (the ceiling), fail
  fast, and the package's defaults otherwise.
- **Columns**: goodput is successful calls per second; p50/p99 are of successful calls, as the
  caller timed them; rejected, deadline exceeded and other errors are shares of all attempts;
  the limit's mean is sampled every 10 ms; the server's peak counts requests in progress,
  abandoned ones included.

What to look for: where the callers' demand exceeds what the service can answer within the
deadline, no bulkhead (or a fixed one the callers never fill) lets the queue grow until calls
expire while being served; an adaptive limit should hold the service near its plateau and
refuse the excess at once.

`, l.Clients, l.Deadline, l.Warmup, l.Duration, l.RejectPause)
}
