package optkit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct{ n int }

func (s *sink) Observe(observe.Event) { s.n++ }

// option is a package's Option as the policy packages write it.
type option struct {
	o     Option
	local string
}

const kindName = KindLocal

func commonOf(o option) Option { return o.o }

func TestApply(t *testing.T) {
	fake := clocktest.New(time.Unix(1e9, 0))
	s := &sink{}
	cl, _ := codes.Default().With(codes.Overrides{})
	half := func() float64 { return 0.5 }
	tests := []struct {
		name       string
		opts       []option
		wantClock  clock.Clock
		wantSink   observe.Sink
		wantCl     *codes.Classifier
		wantRand   float64 // -1: the default
		wantCommon []bool
	}{
		{name: "defaults", wantClock: clock.Real, wantCl: codes.Default(), wantRand: -1},
		{
			name:      "each option",
			opts:      []option{{o: Clock(fake)}, {o: Observer(s)}, {o: Classifier(cl)}, {o: Rand(half)}},
			wantClock: fake, wantSink: s, wantCl: cl, wantRand: 0.5,
			wantCommon: []bool{true, true, true, true},
		},
		{
			name:      "nil keeps the default, last wins",
			opts:      []option{{o: Clock(fake)}, {o: Clock(nil)}, {o: Classifier(cl)}, {o: Classifier(nil)}, {o: Rand(nil)}, {o: Observer(s)}, {o: Observer(nil)}},
			wantClock: clock.Real, wantCl: cl, wantRand: -1,
			wantCommon: []bool{true, true, true, true, true, true, true},
		},
		{
			name:      "local kinds and the zero option are not common",
			opts:      []option{{o: Option{Kind: kindName}, local: "x"}, {}},
			wantClock: clock.Real, wantCl: codes.Default(), wantRand: -1,
			wantCommon: []bool{false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			for i, o := range tt.opts {
				if got := c.Apply(o.o); got != tt.wantCommon[i] {
					t.Errorf("Apply(opts[%d]) = %v, want %v", i, got, tt.wantCommon[i])
				}
			}
			if b := Build(tt.opts, commonOf); b.Clock != c.Clock || b.Sink != c.Sink || b.Classifier != c.Classifier {
				t.Errorf("Build = %+v, Apply in a loop = %+v", b, c)
			}
			if c.Clock != tt.wantClock || c.Sink != tt.wantSink || c.Classifier != tt.wantCl {
				t.Errorf("got clock %v sink %v classifier %p, want %v %v %p", c.Clock, c.Sink, c.Classifier, tt.wantClock, tt.wantSink, tt.wantCl)
			}
			if r := c.Rand(); (tt.wantRand < 0 && (r < 0 || r >= 1)) || (tt.wantRand >= 0 && r != tt.wantRand) {
				t.Errorf("Rand() = %v, want %v (-1: the default in [0, 1))", r, tt.wantRand)
			}
		})
	}
}

func TestOptionAllocatesNothing(t *testing.T) {
	fake := clocktest.New(time.Unix(1e9, 0))
	var c Common
	if n := testing.AllocsPerRun(100, func() {
		c = Defaults()
		c.Apply(Clock(fake))
		c.Apply(Classifier(nil))
	}); n != 0 {
		t.Fatalf("building common options: %v allocs, want 0", n)
	}
	_ = c
}

type policy struct{}

func (policy) Unary() grpc.UnaryClientInterceptor {
	return func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
		return nil
	}
}

func (policy) Stream() grpc.StreamClientInterceptor {
	return func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, grpc.Streamer, ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, nil
	}
}

func newPolicy(fail bool) (*policy, error) {
	if fail {
		return nil, errors.New("bad config")
	}
	return &policy{}, nil
}

func TestInterceptors(t *testing.T) {
	if u, err := Unary(newPolicy(false)); u == nil || err != nil {
		t.Errorf("Unary of a policy = %v, %v; want an interceptor", u != nil, err)
	}
	if s, err := Stream(newPolicy(false)); s == nil || err != nil {
		t.Errorf("Stream of a policy = %v, %v; want an interceptor", s != nil, err)
	}
	// A constructor's error comes back, and the nil policy beside it is not called.
	if u, err := Unary(newPolicy(true)); u != nil || err == nil || err.Error() != "bad config" {
		t.Errorf("Unary of an error = %v, %v; want nil, bad config", u != nil, err)
	}
	if s, err := Stream(newPolicy(true)); s != nil || err == nil || err.Error() != "bad config" {
		t.Errorf("Stream of an error = %v, %v; want nil, bad config", s != nil, err)
	}
}
