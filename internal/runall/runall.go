// Package runall runs a list of funcs whole: one that panics keeps none of the others from
// running.
package runall

// Each calls every f in fs, in order, also after one panics (a func of a policy's or of the
// program's, run at a commit, which must not be left half done); then it panics with what the
// first that panicked panicked with.
func Each(fs []func()) {
	For(fs, func(f func()) { f() })
}

// For calls f with every x in xs, in order, also after a call panics (an observer's, say, on
// one of several events that must all be sent); then it panics with what the first call that
// panicked panicked with. A later panic is recovered and dropped.
func For[T any](xs []T, f func(T)) {
	var first any
	panicked := false
	for _, x := range xs {
		func() {
			defer func() {
				if r := recover(); r != nil && !panicked {
					first, panicked = r, true
				}
			}()
			f(x)
		}()
	}
	if panicked {
		panic(first)
	}
}
