// Package runall runs a list of funcs whole: one that panics keeps none of the others from
// running.
package runall

// Each calls every f in fs, in order, also after one panics (a func of a policy's or of the
// program's, run at a commit, which must not be left half done); then it panics with what the
// first that panicked panicked with.
func Each(fs []func()) {
	var first any
	panicked := false
	for _, f := range fs {
		func() {
			defer func() {
				if r := recover(); r != nil && !panicked {
					first, panicked = r, true
				}
			}()
			f()
		}()
	}
	if panicked {
		panic(first)
	}
}
