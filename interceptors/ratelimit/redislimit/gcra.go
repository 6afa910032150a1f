package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// errBadState: the key held something that is not a TAT (not a string, not a number, not
// finite). The
// script deleted the key, so the next Take starts from a full bucket; this one is a limiter
// fault, which the fail mode answers.
var errBadState = errors.New("redis key held no valid GCRA state; the key was reset")

// gcraScript is one GCRA step. It keeps redis_rate's layout (the key's value is the TAT in
// seconds since 2017-01-01 on Redis's clock, with an expiry), so that a limiter built on
// redis_rate with the same key (see bucketKey) and limit shares the bucket, but it does not
// trust the key it reads: a key that holds no string (a list, a hash) or a value that is not a
// finite number is no state this limit writes. The script deletes such a key and answers -1.
//
// A TAT further ahead than the limit's span (Burst emission intervals) is no state this limit
// wrote at Redis's current clock (the key names the limit, so no other limit of this package
// writes it): Redis's clock stepped back, as after a failover, or another program wrote the
// key. It is clamped to now + span, an empty bucket under this limit, and written back, so that
// the call is denied for one interval, the limit is in force after it, and the key expires
// within the span.
//
// The key expires once the bucket is full again (the TAT), but at most 1e15 seconds (31
// million years) on: Redis refuses an expiry whose milliseconds do not fit an int64, and the
// span of a valid limit reaches 3e18 seconds (a call per century, a burst of 1e9). Such a key
// expires early, giving a full bucket after 31 million years instead of failing every write.
//
// KEYS[1] is the bucket; ARGV is burst, rate, period in seconds. It answers {1, 0} when the
// call is admitted (the TAT moved one interval on), {0, wait} when it is not (wait: seconds
// until it would be, as a string), {-1, 0} for a bad state.
var gcraScript = redis.NewScript(`
redis.replicate_commands()
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[3]) / tonumber(ARGV[2])
local span = interval * burst
local max_ex = 1e15
local t = redis.call("TIME")
local now = (t[1] - 1483228800) + t[2] / 1000000
local tat = now
local kind = redis.call("TYPE", key).ok
if kind ~= "none" and kind ~= "string" then
  redis.call("DEL", key)
  return {-1, "0"}
end
local raw = redis.call("GET", key)
local clamped = false
if raw then
  local v = tonumber(raw)
  if v == nil or v ~= v or v == math.huge or v == -math.huge then
    redis.call("DEL", key)
    return {-1, "0"}
  end
  if v > now + span then
    v = now + span
    clamped = true
  end
  if v > now then
    tat = v
  end
end
local next_tat = tat + interval
local wait = next_tat - span - now
if wait > 0 then
  if clamped then
    -- next_tat - span - now is one interval, give or take the rounding of now + span
    redis.call("SET", key, tat, "EX", math.min(math.ceil(span), max_ex))
    wait = interval
  end
  return {0, tostring(wait)}
end
redis.call("SET", key, next_tat, "EX", math.min(math.ceil(next_tat - now), max_ex))
return {1, "0"}
`)

// maxRetryAfter bounds a wait read from Redis: with a valid state it is at most the limit's
// span, so anything longer than a century is a fault, and no conversion to a Duration can
// overflow.
const maxRetryAfter = 100 * 365 * 24 * time.Hour

// verdict is one GCRA step's answer.
type verdict struct {
	allowed    bool
	retryAfter time.Duration // > 0 when !allowed
}

// gcra runs one GCRA step for key under limit. A reply that is not a valid verdict is an
// error wrapping errBadState.
func gcra(ctx context.Context, c redis.Scripter, key string, limit redis_rate.Limit) (verdict, error) {
	v, err := gcraScript.Run(ctx, c, []string{key}, limit.Burst, limit.Rate, limit.Period.Seconds()).Slice()
	if err != nil {
		return verdict{}, err
	}
	return parseVerdict(v)
}

func parseVerdict(v []any) (verdict, error) {
	if len(v) != 2 {
		return verdict{}, fmt.Errorf("%w: reply %v", errBadState, v)
	}
	code, ok := v[0].(int64)
	if !ok {
		return verdict{}, fmt.Errorf("%w: reply %v", errBadState, v)
	}
	switch code {
	case 1:
		return verdict{allowed: true}, nil
	case 0:
	default:
		return verdict{}, errBadState
	}
	s, _ := v[1].(string)
	d, err := waitDuration(s)
	if err != nil {
		return verdict{}, err
	}
	return verdict{retryAfter: d}, nil
}

// waitDuration converts a wait in seconds, as the script writes it, to a Duration of at least
// 1ns, so that a denial always waits before asking again. A wait that is not a positive finite
// number of seconds below maxRetryAfter is errBadState.
func waitDuration(s string) (time.Duration, error) {
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || !(secs > 0) || secs > maxRetryAfter.Seconds() {
		return 0, fmt.Errorf("%w: retry after %q seconds", errBadState, s)
	}
	return max(time.Duration(math.Ceil(secs*float64(time.Second))), 1), nil
}

// giveBackScript gives back the token of a GCRA step whose answer nobody received (its caller
// left before the answer arrived, and the step admitted it): it moves the TAT back one
// emission interval, never below Redis's own now. A TAT that would reach now is a full bucket,
// whose state is no key (gcraScript reads a missing key as now), so the key is deleted; a TAT
// ahead of now after the move is written with the expiry gcraScript gives it (the bucket full
// again, at most 1e15 seconds on). A missing key, a key that holds no string or no finite
// number (the next step resets it), and a TAT not ahead of now (the bucket full already) are
// left alone: a token is only given back to a bucket in which one is missing.
//
// KEYS[1] is the bucket; ARGV is burst, rate, period in seconds, as for gcraScript. It answers
// 1 when a token was given back, 0 when nothing was changed.
var giveBackScript = redis.NewScript(`
redis.replicate_commands()
local key = KEYS[1]
local interval = tonumber(ARGV[3]) / tonumber(ARGV[2])
local max_ex = 1e15
if redis.call("TYPE", key).ok ~= "string" then
  return 0
end
local v = tonumber(redis.call("GET", key))
if v == nil or v ~= v or v == math.huge or v == -math.huge then
  return 0
end
local t = redis.call("TIME")
local now = (t[1] - 1483228800) + t[2] / 1000000
if v <= now then
  return 0
end
local tat = v - interval
if tat <= now then
  redis.call("DEL", key)
  return 1
end
redis.call("SET", key, tat, "EX", math.min(math.ceil(tat - now), max_ex))
return 1
`)

// giveBack runs giveBackScript for key under limit: whether a token was given back.
func giveBack(ctx context.Context, c redis.Scripter, key string, limit redis_rate.Limit) (bool, error) {
	n, err := giveBackScript.Run(ctx, c, []string{key}, limit.Burst, limit.Rate, limit.Period.Seconds()).Int64()
	return n == 1, err
}
