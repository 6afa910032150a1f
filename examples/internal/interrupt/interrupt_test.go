package interrupt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/interrupt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStopTwice: stop may be called more than once (a deferred stop after an explicit one): the
// second call does nothing, and the context stays cancelled.
func TestStopTwice(t *testing.T) {
	ctx, stop := interrupt.Context("test", io.Discard)
	stop()
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("second stop panicked: %v", r)
			}
		}()
		stop()
	}()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("ctx after stop: %v, want Canceled", ctx.Err())
	}
}

// TestFirstSignalSaysItStops: taking the first signal, Context says so on stderr, with what a
// second one does, before it cancels the context. Nothing said it: an operator did not know
// the Ctrl-C was taken, and a test could not tell when a second signal would be one of its own
// rather than merge into the first.
func TestFirstSignalSaysItStops(t *testing.T) {
	for _, tt := range []struct {
		sig  os.Signal
		name string
	}{{os.Interrupt, "SIGINT"}, {syscall.SIGTERM, "SIGTERM"}} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer // written before the context is cancelled, read after
			ctx, stop := interrupt.Context("test", &stderr)
			defer stop()
			self, err := os.FindProcess(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if err := self.Signal(tt.sig); err != nil {
				t.Skipf("cannot signal this process: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("the context is not cancelled 30s after %s", tt.name)
			}
			want := "test: " + tt.name + " received; stopping gracefully (a second SIGINT or SIGTERM exits at once, status 130)\n"
			if got := stderr.String(); got != want {
				t.Errorf("stderr after %s: %q, want %q", tt.name, got, want)
			}
		})
	}
}
