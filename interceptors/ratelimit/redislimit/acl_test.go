package redislimit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// aclCommands are the commands the package documentation tells a Redis ACL to grant a
// limiter's user (see Key layout): the script's own (EVALSHA, and EVAL when Redis does not
// know it yet) and every command the script calls, which Redis checks against the same user.
var aclCommands = []string{"evalsha", "eval", "time", "type", "get", "set", "del"}

// A limiter whose Redis user has exactly the ACL the documentation gives (its key pattern and
// commands) admits and denies calls, repairs a key of another type and gives a token back, as
// it does with every right: no Take is a NOPERM fault answered by the fail mode.
func TestDocumentedACLSuffices(t *testing.T) {
	srv := ownServer(t)
	ctx := context.Background()
	p := prefix(t)
	rules := []string{"SETUSER", "limiter", "reset", "on", ">secret", "~rate:" + p + "*"}
	for _, c := range aclCommands {
		rules = append(rules, "+"+c)
	}
	args := []any{"ACL"}
	for _, r := range rules {
		args = append(args, r)
	}
	admin := newClient(t, srv.addr)
	if err := admin.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("ACL %s: %v", strings.Join(rules, " "), err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.addr, Username: "limiter", Password: "secret", ContextTimeoutEnabled: true, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	l, err := NewWithClient("ocr", c, ratelimit.Config{Rate: 0.001, Burst: 1, Redis: &ratelimit.RedisConfig{KeyPrefix: p, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := l.Take(ctx, 0); err != nil || !d.Allowed {
		t.Fatalf("first Take = %+v, %v; want admitted", d, err)
	}
	if d, err := l.Take(ctx, 0); err != nil || d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("second Take = %+v, %v; want denied with a RetryAfter", d, err)
	}
	// A key of another type is deleted by the script (a fault of that Take only).
	if err := admin.Del(ctx, l.Key()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.RPush(ctx, l.Key(), "x").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Take(ctx, 0); !errors.Is(err, errBadState) {
		t.Fatalf("Take on a list = %v, want the bad state's fault", err)
	}
	if n, err := admin.Exists(ctx, l.Key()).Result(); err != nil || n != 0 {
		t.Fatalf("key of another type still there (EXISTS %d, %v): the script could not delete it", n, err)
	}
	if d, err := l.Take(ctx, 0); err != nil || !d.Allowed {
		t.Fatalf("Take after the repair = %+v, %v; want admitted", d, err)
	}
	// The give-back of a token nobody received runs with the same rights.
	if back, err := giveBack(ctx, c, l.Key(), l.limit); err != nil || !back {
		t.Fatalf("giveBack = %v, %v; want the token given back", back, err)
	}
	if d, err := l.Take(ctx, 0); err != nil || !d.Allowed {
		t.Fatalf("Take after the give-back = %+v, %v; want admitted", d, err)
	}
}
