package interceptors

// SetBeforeBuild installs a hook that runs when a call misses the chain cache, before the
// suite's lock is taken, so that tests can hold a first-call build at that point.
func SetBeforeBuild(s *Suite, f func()) { s.beforeBuild = f }
