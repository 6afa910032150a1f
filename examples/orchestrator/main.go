// Command orchestrator is bulwark's KYC orchestrator example: it dials the liveness,
// face-match and OCR services through the bulwark suite and runs identity verifications.
//
//	go run ./examples/orchestrator                      # a batch against embedded stubs, summary table
//	go run ./examples/orchestrator -json -n 500          # the summary as one JSON object
//	go run ./examples/orchestrator -explain              # the resolved policies, then exit
//	go run ./examples/orchestrator -serve 127.0.0.1:50060 -metrics 127.0.0.1:9465
//	go run ./examples/orchestrator -liveness HOST:PORT -facematch HOST:PORT -ocr HOST:PORT
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
	"os/signal"
	"syscall"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, app.ErrUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(1)
	}
}

// run is the whole command; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return app.Run(ctx, args, stdout, stderr)
}
