package breaker

import (
	"errors"
	"testing"
)

// Two users hold a breaker; Get (or Delete, then Get) puts one of other settings in its place,
// which neither holds. The registry counted the holders of a name, whatever instance they
// held: each user's check and take of the name with settings other than the new breaker's
// was a conflict, and a fresh take of its settings (the user's classifier changed) got the
// registry's breaker instead of a new one, as if another user held it. No user holds the
// registry's breaker: neither is a conflict, and a fresh take makes a new breaker. Once a
// user holds the registry's breaker, the other's checks and takes of other settings are.
func TestRegistryHoldersOfAReplacedBreakerDoNotHoldItsReplacement(t *testing.T) {
	const name = "svc"
	old := Config{ConsecutiveFailures: 1}
	for _, tc := range []struct {
		name    string
		replace func(r *Registry) *Breaker
	}{
		{"get", func(r *Registry) *Breaker {
			b, _ := r.Get(name, Config{ConsecutiveFailures: 7})
			return b
		}},
		{"delete then get", func(r *Registry) *Breaker {
			r.Delete(name)
			b, _ := r.Get(name, Config{ConsecutiveFailures: 7})
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := new(Registry)
			u1, u2 := r.User(), r.User()
			x, made, err := r.take(name, old, false, u1, nil)
			if err != nil || !made {
				t.Fatalf("u1's first take: %v, made %v", err, made)
			}
			r.put(name, x, u1)
			r.hold(name, x, u1)
			if got, _, err := r.take(name, old, false, u2, nil); err != nil || got != x {
				t.Fatalf("u2's take: %v, %v; want u1's breaker", got, err)
			}
			r.hold(name, x, u2)
			y := tc.replace(r)
			if y == nil || y == x {
				t.Fatalf("the replacement: %v", y)
			}

			other := Config{ConsecutiveFailures: 3}
			if err := r.conflictOf(name, other, u1); err != nil {
				t.Errorf("u1's check of other settings than the breaker no user holds: %v, want nil", err)
			}
			if err := r.conflictOf(name, old, u2); err != nil {
				t.Errorf("u2's check of its unchanged settings: %v, want nil", err)
			}
			b, made, err := r.take(name, y.cfg, true, u1, nil)
			if err != nil || !made || b == y {
				t.Errorf("u1's fresh take of the settings of the breaker no user holds: %p (made %v), %v; want a new breaker", b, made, err)
			}
			if made {
				r.drop(name, b, u1)
			}
			b, made, err = r.take(name, other, false, u1, nil)
			if err != nil || !made {
				t.Fatalf("u1's take of other settings: %v (made %v), want a new breaker", err, made)
			}
			r.put(name, b, u1)
			r.hold(name, b, u1)

			// u1 holds the registry's breaker now: u2's other settings are a conflict.
			if err := r.conflictOf(name, old, u2); !errors.Is(err, ErrSharedConflict) {
				t.Errorf("u2's check while u1 holds the registry's breaker: %v, want ErrSharedConflict", err)
			}
			if _, _, err := r.take(name, old, false, u2, nil); !errors.Is(err, ErrSharedConflict) {
				t.Errorf("u2's take while u1 holds the registry's breaker: %v, want ErrSharedConflict", err)
			}
		})
	}
}
