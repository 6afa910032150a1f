package interrupt_test

import (
	"context"
	"errors"
	"io"
	"testing"

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
