package outcome

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClass(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	unavailable := status.Error(grpccodes.Unavailable, "down")
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want codes.Class
	}{
		{name: "success", ctx: context.Background(), want: codes.Success},
		{name: "success after the caller cancelled", ctx: cancelled, want: codes.Success},
		{name: "classified", ctx: context.Background(), err: unavailable, want: codes.Transient},
		{name: "the caller cancelled: whatever the error", ctx: cancelled, err: unavailable, want: codes.Canceled},
		{name: "a plain error", ctx: context.Background(), err: errors.New("boom"), want: codes.Default().Classify(errors.New("boom")).Class},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Class(tt.ctx, tt.err, codes.Default()); got != tt.want {
				t.Fatalf("Class = %v, want %v", got, tt.want)
			}
		})
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { Class(ctx, unavailable, codes.Default()) }); n != 0 {
		t.Fatalf("Class of a status: %v allocs, want 0", n)
	}
}
