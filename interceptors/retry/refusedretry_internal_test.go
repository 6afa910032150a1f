package retry

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A retry that a policy below the loop refuses (an open breaker, a full bulkhead, the rate
// limit, the throttle: class rejected) never reached the service: a ratio budget uncounts it,
// as a hedge refused so is uncounted, and the window's retries stay for a retry that is sent.
// A token bucket took nothing for it (Allow only reads it) and gets nothing back.
func TestRefusedRetryIsUncounted(t *testing.T) {
	refused := &codes.Rejection{Err: context.Canceled, Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "test.v1.S"}
	for _, tt := range []struct {
		name        string
		throttle    RetryBudgetConfig
		wantRetries int64   // a ratio budget's counted retries after the call
		wantTokens  float64 // a token bucket's tokens after the call
	}{
		{"ratio", RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second}, 0, 0},
		// A6: the failure takes a token; the refused retry neither takes nor gives one.
		{"token bucket", RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.5}, 0, 9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Config{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Multiplier: 1, Jitter: JitterNone, Idempotent: true, Throttle: tt.throttle})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				n++
				if n == 1 {
					return status.Error(grpccodes.Unavailable, "down")
				}
				return refused
			}
			if err := p.Unary()(context.Background(), "/test.v1.S/Do", nil, nil, nil, invoker); err == nil || n != 2 {
				t.Fatalf("call = %v after %d attempts; want the refusal of attempt 2", err, n)
			}
			b := p.Budget("test.v1.S")
			if b.ratioMode {
				if _, retries := b.counted(); retries != tt.wantRetries {
					t.Errorf("the ratio budget counts %d retries after a call whose retry was refused; want %d", retries, tt.wantRetries)
				}
				return
			}
			if got := b.Tokens(); got != tt.wantTokens {
				t.Errorf("the token bucket holds %v tokens; want %v", got, tt.wantTokens)
			}
		})
	}
}
