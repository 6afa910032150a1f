// Command orchestrator is bulwark's KYC orchestrator example: it dials the liveness,
// face-match and OCR services through the bulwark suite and runs identity verifications.
//
//	go run ./examples/orchestrator                      # a batch against embedded stubs, summary table
//	go run ./examples/orchestrator -json -n 500          # the summary as one JSON object
//	go run ./examples/orchestrator -rate 50 -n 1000      # open loop: 50 verifications started per second
//	go run ./examples/orchestrator -explain              # the resolved policies and the run, then exit
//	go run ./examples/orchestrator -serve 127.0.0.1:50060 -metrics 127.0.0.1:9465
//	go run ./examples/orchestrator -liveness HOST:PORT -facematch HOST:PORT -ocr HOST:PORT
//
// The first SIGINT (Ctrl-C) or SIGTERM ends a batch early: the verifications in flight are
// cancelled, the summary is marked interrupted and counts them apart, and the command exits
// 130; in -serve it starts a graceful stop of up to -stop-timeout. Either way a line on stderr
// says the signal was taken ("orchestrator: SIGINT received; stopping gracefully (a second
// SIGINT or SIGTERM exits at once, status 130)"). A second one exits at once.
//
// See examples/orchestrator/README.md for every flag and the JSON summary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bulwarkrpc/bulwark/examples/internal/interrupt"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/app"
)

func main() {
	ctx, stop := interrupt.Context("orchestrator", os.Stderr)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code := exitCode(err); code != 0 {
		if code == 1 {
			fmt.Fprintln(os.Stderr, "orchestrator:", err)
		}
		os.Exit(code)
	}
}

// exitInterrupted is the status of a batch cut short by a signal.
const exitInterrupted = interrupt.ExitCode

// exitCode maps run's error to the exit status: 0 for success and -h, 2 for a command-line
// error (already reported), 130 for an interrupted batch (summary printed), 1 otherwise.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, app.ErrUsage):
		return 2
	case errors.Is(err, app.ErrInterrupted):
		return exitInterrupted
	default:
		return 1
	}
}

// run is the whole command; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return app.Run(ctx, args, stdout, stderr)
}
