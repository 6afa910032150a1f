package interceptors_test

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/section"
)

const panicAddr = "127.0.0.9:10"

// panicking is remoteFactory's make, panicking for panicAddr.
func (f *remoteFactory) panicking(key string, cfg ratelimit.Config, env ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
	if cfg.Redis.Addr == panicAddr {
		panic("remote limiter factory")
	}
	return f.make(key, cfg, env)
}

// recovered runs f and returns what it panicked with.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// A Build that panics (a remote limiter factory of the program's) ends its reload as a
// rejected one: the objects the reload built for its other chains are released once, the
// suite stays usable, and Close releases nothing twice.
func TestPanickingReloadReleasesItsObjects(t *testing.T) {
	clk := clocktest.New(time.Unix(1700000000, 0))
	f := &remoteFactory{}
	s, err := interceptors.New(stagedConfig(2, 100, "127.0.0.1:2", 10), interceptors.WithClock(clk), interceptors.WithRemoteLimiter(f.panicking))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// FaceMatch's limiter changes (made anew, staged); OCR's factory panics.
	if r := recovered(func() { _ = s.Reload(stagedConfig(2, 200, panicAddr, 10)) }); r == nil {
		t.Fatal("the factory's panic did not reach Reload's caller")
	}
	if got := f.closes(); !slices.Equal(got, []int{0, 0, 1}) {
		t.Errorf("closes of the remote limiters after the panicking reload: %v, want [0 0 1] (the reload's own closed)", got)
	}
	if err := s.Reload(stagedConfig(2, 100, "127.0.0.1:2", 10)); err != nil {
		t.Fatalf("a reload after the panicking one: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.closes(); !slices.Equal(got, []int{1, 1, 1}) {
		t.Errorf("closes after Close: %v, want every limiter closed once", got)
	}
}

// panickyConfig is the value of the panicky section, whose Build panics: a policy of the
// program's with a bug.
type panickyConfig struct {
	On bool `yaml:"on"`
}

func init() {
	section.Register(section.Spec[panickyConfig]{
		Key:  "panicky",
		Rank: section.RankRateLimit + 60,
		Build: func(*section.Env, panickyConfig) (section.Built, error) {
			panic("panicky section")
		},
	})
}

// The same for a chain built on its method's first call: the fleet-wide limiter built before
// the panicking step is released once, and the suite's lock is free.
func TestPanickingFirstBuildReleasesItsObjects(t *testing.T) {
	const svc = "test.v1.LazyPanic"
	f := &remoteFactory{}
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			RateLimit: &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}},
			Sections:  map[section.Key]any{"panicky": &panickyConfig{On: true}},
		}},
		Services: map[string]config.Service{svc: {Profile: "p"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))), interceptors.WithRemoteLimiter(f.make))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inv := &testkit.CountingInvoker{}
	if r := recovered(func() { _ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke) }); r == nil {
		t.Fatal("the section's panic did not reach the caller")
	}
	if got := f.closes(); !slices.Equal(got, []int{1}) {
		t.Errorf("closes of the panicking build's remote limiters: %v, want [1]", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.closes(); !slices.Equal(got, []int{1}) {
		t.Errorf("closes after Close: %v, want [1]", got)
	}
}
