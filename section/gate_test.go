package section_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// InvokeGate runs a gate around the rest of the call: Enter, the rest, Exit with the rest's
// outcome; a refusal ends the call without the rest or Exit; a panic of the rest exits the
// gate as panicked and goes on.
func TestInvokeGate(t *testing.T) {
	errRest, errRefused := errors.New("rest failed"), errors.New("refused")
	for _, tc := range []struct {
		name    string
		refuse  error
		ended   bool // the caller's context has ended before the call
		rest    func() error
		wantErr error
		panics  bool
		want    []string
	}{
		{
			name: "admitted", rest: func() error { return errRest }, wantErr: errRest,
			want: []string{"enter g", "rest", "exit g pass=7 err=rest failed panicked=false"},
		},
		{
			name: "refused", refuse: errRefused, rest: func() error { return nil }, wantErr: errRefused,
			want: []string{"enter g refused"},
		},
		{
			name: "rest panics", rest: func() error { panic("boom") }, panics: true,
			want: []string{"enter g", "rest", "exit g pass=7 err=<nil> panicked=true"},
		},
		{
			// grpc fails such a call before sending it: the gate neither admits nor counts it.
			name: "context ended before the call", ended: true, rest: func() error { return errRest }, wantErr: errRest,
			want: []string{"rest"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := new(testkit.GateLog)
			g := &testkit.Gate{Name: "g", ID: 7, Log: log, Refuse: tc.refuse}
			panicked, err := panics(func() error {
				return g.InvokeStep(callContext(t, tc.ended), "/s/M", nil, nil, nil, nil, section.NextInvoker(restOf(log, tc.rest)))
			})
			if panicked != tc.panics || (!tc.panics && !errors.Is(err, tc.wantErr)) {
				t.Errorf("InvokeStep = %v, panicked %v; want %v, panicked %v", err, panicked, tc.wantErr, tc.panics)
			}
			if got := log.Lines(); !slices.Equal(got, tc.want) {
				t.Errorf("gate saw %q, want %q", got, tc.want)
			}
		})
	}
}

// callContext is a call's context: one whose deadline has passed when ended is set.
func callContext(t *testing.T, ended bool) context.Context {
	if !ended {
		return context.Background()
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	t.Cleanup(cancel)
	return ctx
}

// restOf is the rest of a call under test: it logs "rest" and returns what f returns.
func restOf(log *testkit.GateLog, f func() error) grpc.UnaryInvoker {
	return func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		log.Add("rest")
		return f()
	}
}

// panics calls f and reports whether it panicked, and else its error.
func panics(f func() error) (panicked bool, err error) {
	defer func() { panicked = recover() != nil }()
	return false, f()
}
