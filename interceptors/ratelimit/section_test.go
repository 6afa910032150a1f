package ratelimit_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/section"
)

// TestNormalizeAndEqual: Normalize fills the burst and the Redis defaults on a copy of the
// Redis section, and Equal compares Redis sections by value.
func TestNormalizeAndEqual(t *testing.T) {
	in := ratelimit.Config{Rate: 2.5, Redis: &ratelimit.RedisConfig{Addr: "r:6379"}}
	got := ratelimit.Normalize(in)
	if got.Burst != 3 || got.Redis.KeyPrefix != ratelimit.DefaultRedisKeyPrefix || got.Redis.Timeout != ratelimit.DefaultRedisTimeout {
		t.Fatalf("Normalize = %+v %+v", got, *got.Redis)
	}
	if in.Redis.KeyPrefix != "" || in.Redis.Timeout != 0 {
		t.Fatalf("Normalize changed its argument's Redis section: %+v", *in.Redis)
	}
	same := ratelimit.Normalize(in)
	if same.Redis == got.Redis || !got.Equal(same) {
		t.Fatal("two normalizations of one config are not Equal by value")
	}
	same.Redis.FailOpen = true
	if got.Equal(same) {
		t.Fatal("Equal ignores a Redis field")
	}
	if got.Equal(ratelimit.Config{Rate: 2.5, Burst: 3}) {
		t.Fatal("Equal ignores a missing Redis section")
	}
}

// A suite's builds of the rate_limit section within one reload (one section.Stage) share a
// shared bucket made in place of the registry's, and the registry takes it only when the reload
// commits: a rejected reload leaves the registry's bucket in place.
func TestSectionBuildStagesSharedBuckets(t *testing.T) {
	sec, ok := section.Lookup("rate_limit")
	if !ok {
		t.Fatal("rate_limit is not registered")
	}
	reg := ratelimit.NewRegistry()
	build := func(st *section.Stage, service string, rate float64) (*ratelimit.Local, error) {
		env := &section.Env{
			Service: service, FullMethod: "/" + service + "/M", Name: service,
			Values: map[reflect.Type]any{reflect.TypeFor[*ratelimit.Registry](): reg}, Stage: st,
		}
		cfg := ratelimit.Normalize(ratelimit.Config{Rate: rate, Shared: "kyc"})
		b, err := sec.Build(env, &cfg)
		if err != nil {
			return nil, err
		}
		return b.Object.(*ratelimit.Policy).Limiter().(*ratelimit.Local), nil
	}
	old, err := build(nil, "a.A", 10) // outside a reload: in the registry at once
	if err != nil {
		t.Fatal(err)
	}
	if got, err := reg.Local(ratelimit.Config{Rate: 10, Shared: "kyc"}); err != nil || got != old {
		t.Fatalf("registry's bucket after a build without a stage: %v (same %v), want the build's", err, got == old)
	}

	for _, commit := range []bool{false, true} {
		reg.Reconfigure()
		st := &section.Stage{}
		a, err := build(st, "a.A", 20)
		if err != nil || a == old || a.Rate() != 20 {
			t.Fatalf("changed rate: %v (same bucket %v), want a new bucket at 20/s", err, a == old)
		}
		if b, err := build(st, "b.B", 20); err != nil || b != a {
			t.Fatalf("second service of the reload: %v (same bucket %v), want the reload's new bucket", err, b == a)
		}
		if _, err := build(st, "c.C", 10); !errors.Is(err, ratelimit.ErrSharedConflict) {
			t.Fatalf("the old rate in the same reload: %v, want ErrSharedConflict", err)
		}
		want := old
		if commit {
			st.Commit()
			want = a
		}
		reg.Reconfigure()
		if got, err := reg.Local(ratelimit.Config{Rate: want.Rate(), Shared: "kyc"}); err != nil || got != want {
			t.Fatalf("committed %v: the registry's bucket is another (%v), want the one at %v/s", commit, err, want.Rate())
		}
	}
}
