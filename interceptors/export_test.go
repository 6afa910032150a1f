package interceptors

// SetBeforeBuild installs a hook that runs when a call misses the chain cache, before the
// suite's lock is taken, so that tests can hold a first-call build at that point.
func SetBeforeBuild(s *Suite, f func()) { s.beforeBuild = f }

// ChainCount returns how many chains the configuration in force holds.
func ChainCount(s *Suite) int {
	n := 0
	st := s.state.Load()
	count := func(any, any) bool { n++; return true }
	st.chains.Range(count)
	st.shared.Range(count)
	return n
}
