// Package interrupt is the example commands' signal handling: the first SIGINT (Ctrl-C) or
// SIGTERM cancels the command's context, so that it can stop gracefully; a second one exits the
// process at once, for an operator who will not wait.
package interrupt

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// ExitCode is the status of a command cut short by a signal: 128 + SIGINT, as shells give.
const ExitCode = 130

// Context returns a context that the first SIGINT or SIGTERM cancels. Taking it, Context writes
// a line to stderr before it cancels the context: name, the signal, "stopping gracefully" and
// what a second signal does ("orchestrator: SIGINT received; stopping gracefully (a second
// SIGINT or SIGTERM exits at once, status 130)"). Two signals sent close together can reach
// the process as one; a second signal sent after that line is one of its own. On a second,
// name is written to stderr with "interrupted again; exiting at once" and the process exits
// with ExitCode. stderr must take writes from another goroutine (os.Stderr does). stop ends the
// handling (signals get their default behaviour back) and cancels the context; calling it
// again does nothing.
func Context(name string, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		// Before cancel: the line comes before anything the stop writes.
		fmt.Fprintf(stderr, "%s: %s received; stopping gracefully (a second SIGINT or SIGTERM exits at once, status %d)\n",
			name, signalName(sig), ExitCode)
		cancel()
		if _, ok := <-sigs; !ok {
			return
		}
		fmt.Fprintf(stderr, "%s: interrupted again; exiting at once\n", name)
		os.Exit(ExitCode)
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(sigs)
			cancel()
		})
	}
}

// signalName is the name an operator knows sig by: SIGINT (Ctrl-C) or SIGTERM.
func signalName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}
