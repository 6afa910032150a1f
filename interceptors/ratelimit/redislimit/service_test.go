package redislimit

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// A limiter built as the package documentation shows, New("kyc.v1.OCRService", cfg,
// WithObserver(sink)) without WithService, names its service in its LimiterDegraded events:
// they used to carry an empty Service, so promobs counted them under service="" and zapobs
// wrote service="" while the ratelimit policy's rejections of the same calls named the service.
// WithService still sets another name. No Redis is needed: nothing listens on the address.
func TestDegradedEventsNameTheLimitersService(t *testing.T) {
	addr := deadAddr(t)
	cfg := ratelimit.Config{Rate: 1, Redis: &ratelimit.RedisConfig{Addr: addr, Timeout: time.Second}}
	for name, tc := range map[string]struct {
		opts []Option
		want string
	}{
		"default":      {nil, "kyc.v1.OCRService"},
		"with service": {[]Option{WithService("kyc.v1.FaceService")}, "kyc.v1.FaceService"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &testkit.Recorder{}
			l, err := New("kyc.v1.OCRService", cfg, append([]Option{WithObserver(rec)}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, err := l.Take(context.Background(), 0); err == nil {
				t.Fatal("Take against a closed port: no error, want the fail-closed refusal")
			}
			events := rec.Events(observe.LimiterDegraded)
			if len(events) != 1 || events[0].Service != tc.want {
				t.Fatalf("LimiterDegraded events %+v, want one with Service %q", events, tc.want)
			}
		})
	}
}
