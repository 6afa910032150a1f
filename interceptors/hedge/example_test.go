package hedge_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A hedging policy on a client connection, drawing from the retry policy's budget for the
// face-match service.
func Example() {
	rp, err := retry.New(retry.Config{Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.5}})
	if err != nil {
		panic(err)
	}
	hp, err := hedge.New(hedge.Config{MaxAttempts: 3, Percentile: 0.95, MaxDelay: 2 * time.Second},
		hedge.WithBudget(rp.Budget("kyc.v1.FaceMatchService")))
	if err != nil {
		panic(err)
	}
	cc, err := grpc.NewClient("passthrough:///facematch:443",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(hp.Unary(), rp.Unary()),
		grpc.WithChainStreamInterceptor(hp.Stream(), rp.Stream()),
	)
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	cfg := hp.Config()
	fmt.Println(cfg.MaxAttempts, cfg.Percentile, cfg.Window, cfg.MinSamples)
	fmt.Println(hp.Delay("/kyc.v1.FaceMatchService/Compare")) // the starting delay, until 50 latencies are known
	// Output:
	// 3 0.95 500 50
	// 100ms
}

// The first attempt stalls; after the 50ms delay a hedge goes, answers, and wins. A fake clock
// makes the delay instant and the output exact.
func ExamplePolicy_Unary() {
	clk := clocktest.New(time.Time{})
	sink := observe.SinkFunc(func(e observe.Event) {
		switch e.Kind {
		case observe.HedgeSent:
			fmt.Println("hedge", e.Attempt, "sent after", e.Delay, "reason", e.Reason)
		case observe.HedgeWon:
			fmt.Println("hedge", e.Attempt, "won:", e.Code, "in", e.Duration)
		}
	})
	p, err := hedge.New(hedge.Config{Delay: 50 * time.Millisecond}, hedge.WithClock(clk), hedge.WithObserver(sink))
	if err != nil {
		panic(err)
	}
	// An invoker standing for the service: attempt 1 stalls until canceled, hedges answer.
	invoker := func(ctx context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		md, _ := metadata.FromOutgoingContext(ctx)
		if len(md.Get(hedge.PreviousAttemptsKey)) == 0 {
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
		reply.(*kycv1.CompareResponse).Similarity = 0.93
		return nil
	}
	go func() {
		clk.BlockUntil(1) // the hedging timer is set
		clk.Advance(50 * time.Millisecond)
	}()
	reply := &kycv1.CompareResponse{}
	err = p.Unary()(context.Background(), "/kyc.v1.FaceMatchService/Compare", &kycv1.CompareRequest{}, reply, nil, invoker)
	fmt.Println(reply.GetSimilarity(), err)
	// Output:
	// hedge 2 sent after 50ms reason delay
	// hedge 2 won: OK in 50ms
	// 0.93 <nil>
}
