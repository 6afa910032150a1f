package bulkhead

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// grantOnAbandon is a limit whose held slot is handed to the waiter just as the waiter gives
// up: the caller's cancellation and the grant cross, and abandon reports the waiter holds it.
type grantOnAbandon struct {
	permits
	release func()
}

func (g grantOnAbandon) abandon(w *waiter) bool {
	g.release()
	return g.permits.abandon(w)
}

// TestCanceledWaiterGivesBackACrossingGrant: a waiter whose caller cancels while a slot is
// granted to it returns the caller's error and gives that slot back, in both modes.
func TestCanceledWaiterGivesBackACrossingGrant(t *testing.T) {
	for name, alg := range map[string]Algorithm{"fixed": AlgorithmNone, "aimd": AlgorithmAIMD} {
		t.Run(name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			cfg := Config{MaxConcurrent: 1, MaxWait: time.Second}
			if alg != AlgorithmNone {
				cfg.Adaptive = Adaptive{Algorithm: alg, InitialLimit: 1}
			}
			b, err := New("kyc.v1.OCRService", cfg, WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			if !b.TryAcquire() {
				t.Fatal("TryAcquire on an empty bulkhead failed")
			}
			var p permits = b.fx
			if b.ad != nil {
				p = b.ad
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err = b.wait(ctx, nil, "", time.Second, grantOnAbandon{permits: p, release: b.Release})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("wait = %v, want context.Canceled", err)
			}
			if got := b.InFlight(); got != 0 {
				t.Fatalf("InFlight = %d after the canceled waiter left, want 0: the slot granted to it leaked", got)
			}
		})
	}
}

// TestConnClosedWaiterGivesBackACrossingGrant: a waiter whose ClientConn shuts down while a
// slot is granted to it returns Canceled (the client connection is closing) and gives that
// slot back, in both modes.
func TestConnClosedWaiterGivesBackACrossingGrant(t *testing.T) {
	for name, alg := range map[string]Algorithm{"fixed": AlgorithmNone, "aimd": AlgorithmAIMD} {
		t.Run(name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			cfg := Config{MaxConcurrent: 1, MaxWait: time.Hour}
			if alg != AlgorithmNone {
				cfg.Adaptive = Adaptive{Algorithm: alg, InitialLimit: 1}
			}
			b, err := New("kyc.v1.OCRService", cfg, WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			cc, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			if err := cc.Close(); err != nil {
				t.Fatal(err)
			}
			if !b.TryAcquire() {
				t.Fatal("TryAcquire on an empty bulkhead failed")
			}
			var p permits = b.fx
			if b.ad != nil {
				p = b.ad
			}
			err = b.wait(context.Background(), cc, "", time.Hour, grantOnAbandon{permits: p, release: b.Release})
			if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") {
				t.Fatalf("wait = %v, want Canceled, the client connection is closing", err)
			}
			if got := b.InFlight(); got != 0 {
				t.Fatalf("InFlight = %d after the waiter left, want 0: the slot granted to it leaked", got)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers left on the fake clock, want 0", n)
			}
		})
	}
}
