// Command adaptive compares the adaptive bulkhead (aimd, gradient) with a fixed bulkhead and no
// bulkhead, against a FaceMatchService whose latency grows with its concurrency past a knee,
// under a closed loop of callers with a per-call deadline, and prints a markdown table.
//
//	go run ./cmd/adaptive [-clients 64] [-knee 8] [-base 8ms] [-deadline 50ms] [-warmup 1s] [-duration 4s] [-cold]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/bulwarkrpc/bulwark/benchmarks"
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
	flag.Parse()

	conn := "connection made before the load"
	if l.Cold {
		conn = "connection made by the first calls"
	}
	fmt.Printf("### %d callers, deadline %v; service knee %d, base %v (latency base·max(1, in flight/knee), at most %.0f calls/s); %v counted after %v warmup; %s; GOMAXPROCS %d\n\n",
		l.Clients, l.Deadline, l.Knee, l.Base, float64(l.Knee)/l.Base.Seconds(), l.Duration, l.Warmup, conn, runtime.GOMAXPROCS(0))
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
