// Package gatewatch lets a policy above a run of gates (section.Gates), above a gate's own
// unary interceptor (section.InvokeConnGate) or stream interceptor (section.AdmitStream), or
// above the stream steps of gates (section.Step's and Judged's over a section.ConnGate), follow
// one of its attempts through them: when the attempt waits at a gate that may queue it (a
// bulkhead with a max_wait, a rate limiter that waits for a token) and when it has left that
// gate. The time between is spent on this side of the wire, not the service's. The hedging
// policy is such a policy: it sends no hedge while an attempt of the call waits so, and
// measures an attempt's latency from when it left its last such gate. A leaf package, so that
// section and the policies may both import it.
package gatewatch

import "google.golang.org/grpc"

// Watcher is told of its attempts' waits at gates.
type Watcher interface {
	// GateWaiting tells that attempt n enters a gate that may make it wait.
	GateWaiting(n int)
	// GateLeft tells that attempt n has left that gate (admitted, refused, or its context
	// ended), or that the gate panicked, on the panic's way up. Every GateWaiting is
	// followed by one GateLeft, on the unary paths (section.Gates, InvokeConnGate) as on
	// the stream paths (AdmitStream, a gate's stream step).
	GateLeft(n int)
}

// Watch is the call option by which a Watcher follows one of its attempts through the gates
// below it. It must be the last of the attempt's call options: a run of gates that may wait, or
// a gate's stream step, looks there alone, so that finding it costs one comparison. It reaches
// grpc, which ignores it.
type Watch struct {
	grpc.EmptyCallOption
	w Watcher
	n int
}

// Set readies x to tell w of attempt n.
func (x *Watch) Set(w Watcher, n int) { x.w, x.n = w, n }

// Of returns the Watch that is the last of opts, or nil.
func Of(opts []grpc.CallOption) *Watch {
	if len(opts) == 0 {
		return nil
	}
	x, _ := opts[len(opts)-1].(*Watch)
	return x
}

// Waiting tells x's Watcher that its attempt enters a gate that may make it wait. Nothing for
// a nil x.
func (x *Watch) Waiting() {
	if x != nil && x.w != nil {
		x.w.GateWaiting(x.n)
	}
}

// Left tells x's Watcher that its attempt has left the gate it waited at (see Waiting).
// Nothing for a nil x.
func (x *Watch) Left() {
	if x != nil && x.w != nil {
		x.w.GateLeft(x.n)
	}
}
