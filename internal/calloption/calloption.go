// Package calloption reads a policy's own options out of the grpc.CallOptions of one call.
package calloption

import (
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Settings returns base when opts hold no option of type O that changes settings (change(o)
// returns nil for one that does not); otherwise a copy of *base changed by each such option in
// order, base itself left as it is. Without such options it allocates nothing, so a policy can
// call it on every call.
func Settings[O any, S any](base *S, opts []grpc.CallOption, change func(O) func(*S)) *S {
	s := base
	for _, o := range opts {
		po, ok := o.(O)
		if !ok {
			continue
		}
		f := change(po)
		if f == nil {
			continue
		}
		if s == base {
			s = new(S)
			*s = *base
		}
		f(s)
	}
	return s
}

// Scan calls f with each option of type O among opts, in order. It allocates nothing when f
// does not (a func literal that captures only locals the caller keeps on its stack), so a
// policy can read its per-call options with it on every call.
func Scan[O grpc.CallOption](opts []grpc.CallOption, f func(O)) {
	for _, o := range opts {
		if po, ok := o.(O); ok {
			f(po)
		}
	}
}

// Last returns the value of the last option of type O among opts that carries one (value
// reports whether it does: the zero option carries none), else def. It is Scan for the common
// case of a per-call override, and allocates nothing when value does not.
func Last[O grpc.CallOption, T any](opts []grpc.CallOption, def T, value func(O) (T, bool)) T {
	Scan(opts, func(o O) {
		if v, ok := value(o); ok {
			def = v
		}
	})
	return def
}

// WithoutOnFinish appends to dst the options of opts but grpc.OnFinish's, in order. A policy
// that makes several attempts of one call passes them to each attempt and calls the callbacks
// itself, once, when the call ends (OnFinish): grpc calls them when each attempt ends.
func WithoutOnFinish(dst, opts []grpc.CallOption) []grpc.CallOption {
	for _, o := range opts {
		if _, ok := o.(grpc.OnFinishCallOption); !ok {
			dst = append(dst, o)
		}
	}
	return dst
}

// OnFinish calls the callback of each grpc.OnFinish option among opts with err, in order, as
// grpc does once a call has finished.
func OnFinish(opts []grpc.CallOption, err error) {
	for _, o := range opts {
		if f, ok := o.(grpc.OnFinishCallOption); ok && f.OnFinish != nil {
			f.OnFinish(err)
		}
	}
}

// ErrPanicked is the error with which a policy runs a call's grpc.OnFinish callbacks when the
// call ended by a panic before grpc, which would have run them, ended it (a gate that panicked
// as it admitted or refused the call: an observer that panics on its Rejected), or when the
// policy runs them itself once for the call (an attempt loop) and the call panicked: the
// callbacks still run once, as grpc promises, and the panic goes on to the caller.
var ErrPanicked = status.Error(codes.Internal, "bulwark: the call panicked")

// Panicked runs the grpc.OnFinish callbacks among opts with ErrPanicked (see OnFinish). A
// policy defers it only where the call may end by a panic without grpc seeing it.
func Panicked(opts []grpc.CallOption) {
	OnFinish(opts, ErrPanicked)
}

// Admit runs admit, a policy's admission of a stream opened with opts, and returns its error.
// grpc never sees a stream the policy refuses, so a refusal (admit's error) runs the
// grpc.OnFinish callbacks among opts with it, as grpc would have once the stream ended; should
// admit panic (an observer that panics on the refusal's Rejected), they run with ErrPanicked
// and the panic goes on.
func Admit(opts []grpc.CallOption, admit func() error) error {
	decided := false
	defer func() {
		if !decided {
			Panicked(opts)
		}
	}()
	err := admit()
	decided = true
	if err != nil {
		OnFinish(opts, err)
	}
	return err
}

// Observe sends e, an event of a call made with opts that grpc has not seen yet (the deadline
// step's DeadlineApplied), to sink. Should sink panic, the grpc.OnFinish callbacks among opts
// run with ErrPanicked, as grpc would have run them once the call ended, and the panic goes
// on. Apart from its caller, so that a call whose sink does not panic pays for no defer in its
// own frame.
func Observe(opts []grpc.CallOption, sink observe.Sink, e observe.Event) {
	sent := false
	defer func() {
		if !sent {
			Panicked(opts)
		}
	}()
	sink.Observe(e)
	sent = true
}
