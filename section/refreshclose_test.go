package section_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// The refreshtoy section's objects live in a store of its own (Spec.Refresh): each build
// takes the store's one object again, and registers a closer, as a Build should not.
type refreshConfig struct {
	On bool `yaml:"on"`
}

var (
	refreshStore  = &poolObj{}
	refreshBuilds atomic.Int32
	refreshClosed atomic.Int32
)

func init() {
	section.Register(section.Spec[refreshConfig]{
		Key:     "refreshtoy",
		Rank:    section.RankRateLimit + 48,
		Refresh: true,
		Build: func(env *section.Env, _ refreshConfig) (section.Built, error) {
			refreshBuilds.Add(1)
			env.OnClose(func() error { refreshClosed.Add(1); return nil })
			return section.Step(refreshStore, nil)
		},
	})
}

// A Refresh section's Build runs at every build of the suite, and each run's step replaces the
// one before, whose closers run at Close, as Spec.Refresh says: none before, every one then,
// once each, though every step held the store's one object.
func TestRefreshBuildsClosersRunAtClose(t *testing.T) {
	cfg, _, err := config.Parse("refresh.yaml", []byte(`
services:
  kyc.v1.RefreshService:
    refreshtoy: {on: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	builds, closed := refreshBuilds.Load(), refreshClosed.Load()
	s, err := interceptors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for i := range 3 {
		if i > 0 {
			if err := s.Reload(cfg); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Unary()(context.Background(), "/kyc.v1.RefreshService/Get", nil, nil, nil, ok); err != nil {
			t.Fatal(err)
		}
	}
	n := refreshBuilds.Load() - builds
	if n < 3 {
		t.Fatalf("New and two reloads, each followed by a call, ran refreshtoy's Build %d times; want once each at least", n)
	}
	if c := refreshClosed.Load() - closed; c != 0 {
		t.Fatalf("before Close, %d of %d closers ran; want none", c, n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c := refreshClosed.Load() - closed; c != n {
		t.Fatalf("Close ran %d closers of %d builds; want each once", c, n)
	}
}
