package ratelimit_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
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
