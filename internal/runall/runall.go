// Package runall runs a list of funcs whole: one that panics keeps none of the others from
// running.
package runall

// Each calls every f in fs, in order, also after one panics (a func of a policy's or of the
// program's, run at a commit, which must not be left half done); then the first panic goes on
// (see For).
func Each(fs []func()) {
	For(fs, func(f func()) { f() })
}

// For calls f with every x in xs, in order, also after a call panics (an observer's, say, on
// one of several events that must all be sent) or ends its goroutine (runtime.Goexit: an
// observer's t.FailNow); then the first panic goes on, or the goroutine ends. The first panic
// is never recovered: the later calls run while it goes on, from For's frame, so that it keeps
// the stack it was raised on (an unrecovered panic's trace, or a recovering caller's
// debug.Stack, shows the func that panicked, not only For). A later call's panic is recovered
// and dropped; a later call's Goexit lets the calls after it run too, then ends the goroutine
// (a first panic with it: Go drops a panic that a Goexit interrupts).
func For[T any](xs []T, f func(T)) {
	for i := range xs {
		ended := false
		func() {
			defer func() {
				if !ended { // f panicked or called Goexit, which goes on once the rest ran.
					rest(xs[i+1:], f)
				}
			}()
			f(xs[i])
			ended = true
		}()
	}
}

// rest calls f with every x in xs while the panic or Goexit of an earlier call goes on, each
// call's own panic recovered and dropped. The recover is a deferred call's that only a panic
// of f(x) runs (not the earlier panic's unwinding, which runs rest's caller), so it never
// recovers the panic that goes on. A call that ends its goroutine (runtime.Goexit) runs the
// calls after it from its deferred call, as For does, and the goroutine then ends: Go drops
// a panic that a Goexit interrupts.
func rest[T any](xs []T, f func(T)) {
	for i := range xs {
		ended, handed := false, false
		func() {
			defer func() {
				if recover() == nil && !ended { // f called Goexit: the rest runs as it goes on.
					handed = true
					rest(xs[i+1:], f)
				}
			}()
			f(xs[i])
			ended = true
		}()
		if handed { // a nil panic recovered (GODEBUG panicnil=1): the rest ran already.
			return
		}
	}
}
