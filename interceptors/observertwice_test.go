package interceptors_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
)

// WithObserver given twice adds the second sink to the first, as its doc says (metrics and
// logs side by side): each gets every event, the first given first; neither replaces the
// other.
func TestWithObserverTwiceAddsTheSinks(t *testing.T) {
	var order []string
	sink := func(name string) observe.Sink {
		return observe.SinkFunc(func(e observe.Event) {
			if e.Kind == observe.CallFinished {
				order = append(order, name)
			}
		})
	}
	s, err := interceptors.New(nil, interceptors.WithObserver(sink("metrics")), interceptors.WithObserver(sink("logs")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	if err := s.Unary()(context.Background(), "/test.v1.Twice/Do", nil, nil, nil, ok); err != nil {
		t.Fatal(err)
	}
	if len(order) != 2 || order[0] != "metrics" || order[1] != "logs" {
		t.Errorf("CallFinished reached %v, want [metrics logs]", order)
	}
}
