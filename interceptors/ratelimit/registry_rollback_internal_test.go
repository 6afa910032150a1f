package ratelimit

import (
	"reflect"
	"testing"

	"github.com/bulwarkrpc/bulwark/section"
)

// A build whose stage is rolled back (a reload, or a chain built on its method's first call,
// that a later step refuses) runs the closers its objects registered and drops the stage: the
// shared bucket it made for the stage is dropped from the user's pending buckets then, not
// kept (and offered to the other users' builds) until the user's next stage. One whose stage
// commits holds the bucket, as before.
func TestRolledBackBuildDropsItsPendingBucket(t *testing.T) {
	for _, commit := range []bool{false, true} {
		name := "rolled back"
		if commit {
			name = "committed"
		}
		t.Run(name, func(t *testing.T) {
			reg := NewRegistry()
			u, other := reg.User(), reg.User()
			st := &section.Stage{}
			var closers []func() error
			env := &section.Env{
				Service: "s.v1.S", FullMethod: "/s.v1.S/M", Name: "s.v1.S",
				Values: map[reflect.Type]any{reflect.TypeFor[*Registry](): u}, Stage: st,
				OnClose: func(f func() error) { closers = append(closers, f) },
			}
			cfg := Normalize(Config{Rate: 5, Shared: "kyc"})
			if _, err := build(env, cfg); err != nil {
				t.Fatal(err)
			}
			made, _ := st.Load(stagedBucket{u, "kyc"})
			if commit {
				st.Commit()
			} else {
				for _, f := range closers { // as objcache's Rollback does
					_ = f()
				}
			}
			reg.mu.Lock()
			pending := len(u.pending)
			held := u.buckets["kyc"].l
			reg.mu.Unlock()
			if pending != 0 {
				t.Errorf("the user's pending buckets after its stage ended: %d, want 0", pending)
			}
			if commit && held != made {
				t.Errorf("the committed stage's bucket is not the user's")
			}
			if !commit && held != nil {
				t.Errorf("the rolled-back stage's bucket is the user's")
			}
			l, err := other.Local(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if shared := l == made; shared != commit {
				t.Errorf("another user's bucket of the same settings is the stage's: %v, want %v", shared, commit)
			}
			if commit { // the suite closes: the closers of the committed objects run
				for _, f := range closers {
					_ = f()
				}
				if b := u.buckets["kyc"].l; b != made {
					t.Errorf("closing the committed limiter took the user's bucket away")
				}
			}
		})
	}
}
