package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"google.golang.org/grpc"
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

// Per-call options: WithMaxWait lets one call wait for a token where the others are answered
// at once (Config.MaxWait 0). A construction Option (WithClock, …) passed to a call would not
// compile.
func ExampleWithMaxWait() {
	clk := clocktest.New(time.Time{})
	ic, err := ratelimit.UnaryClientInterceptor("kyc.v1.OCRService", nil, ratelimit.Config{Rate: 10, Burst: 1},
		ratelimit.WithClock(clk))
	if err != nil {
		panic(err)
	}
	const method = "/kyc.v1.OCRService/Extract"
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	fmt.Println("first:", status.Code(ic(context.Background(), method, nil, nil, nil, ok)))
	fmt.Println("second:", status.Code(ic(context.Background(), method, nil, nil, nil, ok)))

	done := make(chan error)
	go func() {
		done <- ic(context.Background(), method, nil, nil, nil, ok, ratelimit.WithMaxWait(time.Second))
	}()
	clk.BlockUntil(1)                   // The call waits for the next token,
	clk.Advance(100 * time.Millisecond) // which comes 1/10 s later.
	fmt.Println("with WithMaxWait:", status.Code(<-done))
	// Output:
	// first: OK
	// second: ResourceExhausted
	// with WithMaxWait: OK
}
