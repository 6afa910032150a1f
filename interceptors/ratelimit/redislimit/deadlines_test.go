package redislimit

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// A client whose ReadTimeout or WriteTimeout is -2 never sets a socket deadline, not even from
// the context's (ContextTimeoutEnabled only chooses which deadline is set): a stalled Redis
// holds Take until it resumes, past the Redis timeout and the caller's deadline (measured: 3s
// against a 200ms deadline, then admitted). NewWithClient must refuse it as it refuses a client
// without ContextTimeoutEnabled. A -1 (no timeout of the client's own) still honours the
// context's deadline and is accepted.
func TestNewWithClientNeedsSocketDeadlines(t *testing.T) {
	const addr = "127.0.0.1:1" // never dialed
	cfg := ratelimit.Config{Rate: 1}
	for _, tt := range []struct {
		name        string
		read, write time.Duration
		ok          bool
	}{
		{"read deadlines off", -2, 0, false},
		{"write deadlines off", 0, -2, false},
		{"no timeouts of its own", -1, -1, true},
		{"defaults", 0, 0, true},
	} {
		clients := map[string]redis.UniversalClient{
			"client": redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true,
				ReadTimeout: tt.read, WriteTimeout: tt.write}),
			"cluster": redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true,
				ReadTimeout: tt.read, WriteTimeout: tt.write}),
			"ring": redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}, ContextTimeoutEnabled: true,
				ReadTimeout: tt.read, WriteTimeout: tt.write}),
		}
		for kind, c := range clients {
			_, err := NewWithClient("ocr", c, cfg)
			if tt.ok && err != nil {
				t.Errorf("%s, %s: NewWithClient = %v, want accepted", tt.name, kind, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("%s, %s: NewWithClient accepted a client that sets no socket deadline", tt.name, kind)
			}
			_ = c.Close()
		}
	}
}

// A nil *redis.Client (or cluster or ring client) in the interface, the usual result of a
// client variable left unset, is a nil client: NewWithClient reports it, as it does a nil
// interface, instead of panicking on the client's options.
func TestNewWithClientTypedNil(t *testing.T) {
	for kind, c := range map[string]redis.UniversalClient{
		"client":  (*redis.Client)(nil),
		"cluster": (*redis.ClusterClient)(nil),
		"ring":    (*redis.Ring)(nil),
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: NewWithClient panicked: %v", kind, r)
				}
			}()
			if _, err := NewWithClient("ocr", c, ratelimit.Config{Rate: 1}); err == nil {
				t.Errorf("%s: NewWithClient accepted a nil client", kind)
			}
		}()
	}
}
