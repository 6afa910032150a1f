package testkit

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// NotCallOptions pins the other half of a policy package's option shape: none of its
// construction options (by name) is a grpc.CallOption, so none can be passed to a call, where
// it would be ignored.
func NotCallOptions[O any](t *testing.T, opts map[string]O) {
	t.Helper()
	for name, o := range opts {
		if _, ok := any(o).(grpc.CallOption); ok {
			t.Errorf("%s: an Option is a grpc.CallOption", name)
		}
	}
}

// MaxWaitOption checks a policy's per-call wait option: callMaxWait(def, opts) returns def
// without the option (other options and the zero option among them), the last withMaxWait
// when there are several, 0 for a negative wait, and allocates nothing.
func MaxWaitOption[O grpc.CallOption](t *testing.T, withMaxWait func(time.Duration) O, callMaxWait func(time.Duration, []grpc.CallOption) time.Duration) {
	t.Helper()
	const def = 50 * time.Millisecond
	var zero O
	tests := []struct {
		name string
		opts []grpc.CallOption
		want time.Duration
	}{
		{name: "none: Config.MaxWait", want: def},
		{name: "other options", opts: []grpc.CallOption{grpc.WaitForReady(true)}, want: def},
		{name: "the zero CallOption does nothing", opts: []grpc.CallOption{zero}, want: def},
		{name: "the last wins", opts: []grpc.CallOption{withMaxWait(time.Second), grpc.WaitForReady(true), withMaxWait(2 * time.Second)}, want: 2 * time.Second},
		{name: "negative: no wait", opts: []grpc.CallOption{withMaxWait(-time.Second)}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callMaxWait(def, tt.opts); got != tt.want {
				t.Fatalf("callMaxWait = %v, want %v", got, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { callMaxWait(def, tt.opts) }); n != 0 {
				t.Fatalf("callMaxWait: %v allocs, want 0", n)
			}
		})
	}
}

// Finishes records the calls of a grpc.OnFinish callback; safe for concurrent use.
type Finishes struct {
	mu   sync.Mutex
	errs []error
}

// Option returns the grpc.OnFinish call option that records into f.
func (f *Finishes) Option() grpc.CallOption {
	return grpc.OnFinish(func(err error) {
		f.mu.Lock()
		f.errs = append(f.errs, err)
		f.mu.Unlock()
	})
}

// Errs returns the errors the callback was called with, in order.
func (f *Finishes) Errs() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}
