package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"google.golang.org/grpc/status"
)

func Example() {
	clk := clocktest.New(time.Time{})
	p, err := ratelimit.New("kyc.v1.OCRService", nil, ratelimit.Config{Rate: 5, Burst: 1}, ratelimit.WithClock(clk))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	fmt.Println(p.Allow(ctx) == nil)
	err = p.Allow(ctx)
	fmt.Println(errors.Is(err, ratelimit.ErrLimited), status.Code(err), codes.Default().Classify(err).Delay())
	clk.Advance(200 * time.Millisecond)
	fmt.Println(p.Allow(ctx) == nil)
	// Output:
	// true
	// true ResourceExhausted 200ms
	// true
}

func ExampleRegistry() {
	reg := ratelimit.NewRegistry()
	ml := ratelimit.Config{Rate: 20, Shared: "ml-gpu"}
	face, _ := ratelimit.New("kyc.v1.FaceMatchService", nil, ml, ratelimit.WithRegistry(reg))
	live, _ := ratelimit.New("kyc.v1.LivenessService", nil, ml, ratelimit.WithRegistry(reg))
	fmt.Println(face.Limiter() == live.Limiter())
	_, err := reg.Local(ratelimit.Config{Rate: 50, Shared: "ml-gpu"})
	fmt.Println(errors.Is(err, ratelimit.ErrSharedConflict))
	// Output:
	// true
	// true
}
