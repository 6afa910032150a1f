package interceptors

import (
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/objcache"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// SetBeforeBuild installs a hook that runs when a call misses the chain cache, before the
// suite's lock is taken, so that tests can hold a first-call build at that point.
func SetBeforeBuild(s *Suite, f func()) { s.beforeBuild = f }

// SetAfterCheck installs a hook that runs in Reload each time it has checked the chains of the
// names the suite admitted (see Suite.checkAdmitted), before it takes the suite's lock, so that
// tests can admit a name between that check and the publish.
func SetAfterCheck(s *Suite, f func()) { s.afterCheck = f }

// ChainCount returns how many chains the configuration in force holds.
func ChainCount(s *Suite) int {
	n := 0
	st := s.state.Load()
	count := func(any, any) bool { n++; return true }
	st.chains.Range(count)
	st.shared.Range(count)
	if st.other.Load() != nil {
		n++
	}
	return n
}

// FlatSteps returns the types of the steps that the unary chain of fullMethod runs flat
// (section.UnaryStep), in order.
func FlatSteps(s *Suite, fullMethod string) []string {
	c := s.state.Load().chain(s, fullMethod)
	var out []string
	for _, st := range c.uc.steps {
		if st.flat != nil {
			out = append(out, fmt.Sprintf("%T", st.flat))
		}
	}
	return out
}

// ChainMethod returns the full method the chain serving fullMethod was built for.
func ChainMethod(s *Suite, fullMethod string) string {
	return s.state.Load().chain(s, fullMethod).method
}

// KeptMethods is how many methods and connections a chain's memo of grpc's timeouts holds.
const KeptMethods = keptMethods

// KeptTimeout is what the unary chain of fullMethod reads of grpc's timeout for a call on cc
// that started at now (see unaryChain.kept).
func KeptTimeout(s *Suite, cc *grpc.ClientConn, fullMethod string, now time.Time) time.Duration {
	return s.state.Load().chain(s, fullMethod).uc.kept(cc, fullMethod, nil, now)
}

// KeptNames returns the methods the memo of grpc's timeouts of the unary chain of fullMethod
// holds.
func KeptNames(s *Suite, fullMethod string) []string {
	var out []string
	if m := s.state.Load().chain(s, fullMethod).uc.memo.Load(); m != nil {
		for _, e := range m.entries[:m.n] {
			out = append(out, e.method)
		}
	}
	return out
}

// ResolvedMethod returns the full method whose retry state the unary chain serving fullMethod
// resolved when it was built ("": none, the call looks it up).
func ResolvedMethod(s *Suite, fullMethod string) string {
	return s.state.Load().chain(s, fullMethod).uc.rm.Name()
}

// Direct reports whether the unary chain of fullMethod runs without a runner (Suite.direct).
func Direct(s *Suite, fullMethod string) bool {
	return s.state.Load().chain(s, fullMethod).uc.gated != nil
}

// DisableDirect makes the unary chain of fullMethod run through its runner, as a chain that
// is not an attempt loop and gates alone does. Call it before the chain's calls.
func DisableDirect(s *Suite, fullMethod string) {
	s.state.Load().chain(s, fullMethod).uc.gated = nil
}

// ObjectCount returns how many policy objects the suite's object cache holds.
func ObjectCount(s *Suite) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objs.Len()
}

// ChainOf returns the chain serving fullMethod under the configuration in force, to compare
// chains by identity.
func ChainOf(s *Suite, fullMethod string) any { return s.state.Load().chain(s, fullMethod) }

// Object returns the policy object of section sec named name in the suite's object cache, or
// nil.
func Object(s *Suite, sec, name string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out any
	s.objs.Each(func(k objcache.Key, b section.Built) bool {
		if string(k.Section) == sec && k.Name == name {
			out = b.Object
			return false
		}
		return true
	})
	return out
}

// SetSharedWait installs a hook that runs when s is about to wait for the build lock of the
// breaker registry it shares, which another suite holds (see Suite.lockShared), so that tests
// can tell a suite waiting for it from one done. nil removes it.
func SetSharedWait(s *Suite, f func()) { s.sharedWait = f }

// ConnGates returns how many gates of the unary chain of fullMethod a call enters with its
// ClientConn (section.Gates.Waits), over its runs of gates and the gates its attempt loop
// runs itself.
func ConnGates(s *Suite, fullMethod string) int {
	uc := s.state.Load().chain(s, fullMethod).uc
	n := 0
	count := func(g *section.Gates) {
		for i := range section.MaxGates {
			if g.Waits(i) {
				n++
			}
		}
	}
	for _, r := range uc.runs {
		if r.g != nil && r.g != uc.tail {
			count(r.g)
		}
	}
	if uc.tail != nil {
		count(uc.tail)
	}
	return n
}
