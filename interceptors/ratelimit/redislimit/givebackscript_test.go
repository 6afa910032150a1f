package redislimit

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// giveBackScript gives a token back only to a bucket that misses one: it never moves a TAT
// below Redis's now (no credit beyond a full bucket), and leaves alone a key that is missing,
// holds no valid state, or holds a TAT not ahead of now. A TAT ahead by less than an interval
// is a full bucket once given back, which is no key; one further ahead moves back one interval
// with the expiry the step gives it.
func TestGiveBackScript(t *testing.T) {
	ctx := context.Background()
	l := testLimiter(t, "ocr", config(sharedAddr(t), prefix(t), hourly, 2)) // an interval of 3600s
	format := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	giveBackOnce := func() bool {
		t.Helper()
		back, err := giveBack(ctx, l.client, l.Key(), l.limit)
		if err != nil {
			t.Fatalf("giveBack: %v", err)
		}
		return back
	}

	t.Run("missing key", func(t *testing.T) {
		if giveBackOnce() {
			t.Error("gave a token back to a bucket with no key (full)")
		}
		if n, err := l.client.Exists(ctx, l.Key()).Result(); err != nil || n != 0 {
			t.Errorf("EXISTS = %d, %v; want the key still missing", n, err)
		}
	})

	for _, bad := range []string{"nan", "inf", "-inf", "not a time"} {
		t.Run("bad state "+bad, func(t *testing.T) {
			if err := l.client.Set(ctx, l.Key(), bad, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if giveBackOnce() {
				t.Errorf("gave a token back to a key holding %q", bad)
			}
			if v, err := l.client.Get(ctx, l.Key()).Result(); err != nil || v != bad {
				t.Errorf("key = %q, %v; want %q left alone", v, err, bad)
			}
		})
	}

	t.Run("a list", func(t *testing.T) {
		if err := l.client.Del(ctx, l.Key()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := l.client.RPush(ctx, l.Key(), format(redisNow(t, l)+5400)).Err(); err != nil {
			t.Fatal(err)
		}
		if giveBackOnce() {
			t.Error("gave a token back to a list")
		}
		if kind, err := l.client.Type(ctx, l.Key()).Result(); err != nil || kind != "list" {
			t.Errorf("TYPE = %q, %v; want the list left alone", kind, err)
		}
		_ = l.client.Del(ctx, l.Key()).Err()
	})

	t.Run("TAT in the past", func(t *testing.T) {
		old := format(redisNow(t, l) - 100)
		if err := l.client.Set(ctx, l.Key(), old, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if giveBackOnce() {
			t.Error("gave a token back to a full bucket (TAT in the past)")
		}
		if v, err := l.client.Get(ctx, l.Key()).Result(); err != nil || v != old {
			t.Errorf("key = %q, %v; want %q left alone", v, err, old)
		}
	})

	t.Run("TAT less than an interval ahead", func(t *testing.T) {
		if err := l.client.Set(ctx, l.Key(), format(redisNow(t, l)+1800), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if !giveBackOnce() {
			t.Error("gave no token back to a bucket missing half of one")
		}
		if _, err := l.client.Get(ctx, l.Key()).Result(); !errors.Is(err, redis.Nil) {
			t.Errorf("GET = %v; want no key: a full bucket, not a TAT below now", err)
		}
	})

	t.Run("TAT more than an interval ahead", func(t *testing.T) {
		if err := l.client.Set(ctx, l.Key(), format(redisNow(t, l)+5400), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if !giveBackOnce() {
			t.Error("gave no token back to a bucket missing one and a half")
		}
		raw, err := l.client.Get(ctx, l.Key()).Result()
		if err != nil {
			t.Fatal(err)
		}
		tat, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Fatal(err)
		}
		// 1800s ahead, less the time since the SET (generously at most a minute).
		if ahead := tat - redisNow(t, l); ahead > 1800 || ahead < 1740 {
			t.Errorf("TAT %.3fs ahead of now, want 1800s (one interval back from 5400s)", ahead)
		}
		if ttl, err := l.client.TTL(ctx, l.Key()).Result(); err != nil || ttl <= 0 || ttl > 1801*time.Second {
			t.Errorf("TTL %v, %v; want within (0, 1801s]: the bucket full again", ttl, err)
		}
	})
}
