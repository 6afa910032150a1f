package deadline_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/observe"
)

func ExamplePolicy_Context() {
	clk := clocktest.New(time.Time{})
	sink := observe.SinkFunc(func(e observe.Event) {
		fmt.Println(e.Kind, e.Reason, e.Delay)
	})
	p, err := deadline.New(deadline.Config{Default: 2 * time.Second, Max: 8 * time.Second},
		deadline.WithClock(clk), deadline.WithObserver(sink))
	if err != nil {
		panic(err)
	}
	ctx, cancel := p.Context(context.Background(), "/kyc.v1.OCRService/Extract")
	defer cancel()
	dl, _ := ctx.Deadline()
	fmt.Println("remaining:", dl.Sub(clk.Now()))
	// Output:
	// deadline_applied default 2s
	// remaining: 2s
}
