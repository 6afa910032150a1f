package interceptors_test

import (
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/section"
)

// publishedConfig is the value of the published section: a policy of the program's whose
// objects live in a store of its own (publishedStore), changed at the reload's commit
// (Stage.OnCommit), and whose Retune, for a value with Retunable, returns an apply that
// panics.
type publishedConfig struct {
	Limit     int  `yaml:"limit"`
	Retunable bool `yaml:"retunable"`
}

type publishedObject struct{ limit int }

// publishedStore is the published section's store: name → limit, as its reloads commit it.
var publishedStore = struct {
	sync.Mutex
	m map[string]int
}{m: map[string]int{}}

func init() {
	section.Register(section.Spec[publishedConfig]{
		Key:  "published",
		Rank: section.RankBulkhead + 60,
		Build: func(env *section.Env, c publishedConfig) (section.Built, error) {
			name := env.Name
			env.Stage.OnCommit(func() {
				publishedStore.Lock()
				publishedStore.m[name] = c.Limit
				publishedStore.Unlock()
			})
			return section.Built{Object: &publishedObject{limit: c.Limit}}, nil
		},
		Retune: func(obj any, c publishedConfig) (func(), bool) {
			if !c.Retunable {
				return nil, false
			}
			return func() { panic("published section's apply") }, true
		},
	})
}

// A reload whose retuned object's apply (a policy of the program's) panics as the reload
// commits, after the object cache published the reload's objects, still makes the changes
// its builds staged in stores outside the suite (Stage.OnCommit): the store is not left as
// before the reload while the suite's chains use the reload's objects. The panic reaches
// Reload's caller.
func TestPanickingApplyStillPublishesTheStage(t *testing.T) {
	const a, b = "test.v1.PubA", "test.v1.PubB"
	cfg := func(retuned, rebuilt publishedConfig) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{
				"pa": {Sections: map[section.Key]any{"published": &retuned}},
				"pb": {Sections: map[section.Key]any{"published": &rebuilt}},
			},
			Services: map[string]config.Service{
				a: {Profile: "pa", Methods: map[string]config.Method{"Do": {}}},
				b: {Profile: "pb", Methods: map[string]config.Method{"Do": {}}},
			},
		}
	}
	s, err := interceptors.New(cfg(publishedConfig{Limit: 1}, publishedConfig{Limit: 1}), interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored := func() (int, int) {
		publishedStore.Lock()
		defer publishedStore.Unlock()
		return publishedStore.m[a], publishedStore.m[b]
	}
	if ga, gb := stored(); ga != 1 || gb != 1 {
		t.Fatalf("the store after New: %s %d, %s %d, want 1 and 1", a, ga, b, gb)
	}
	// a's object is retuned (its apply panics at the commit); b's is rebuilt.
	if r := recovered(func() { _ = s.Reload(cfg(publishedConfig{Limit: 2, Retunable: true}, publishedConfig{Limit: 2})) }); r == nil {
		t.Fatal("the apply's panic did not reach Reload's caller")
	}
	if _, gb := stored(); gb != 2 {
		t.Errorf("the store's %s after the reload whose commit panicked: %d, want 2 (the reload's, as the suite's chains use)", b, gb)
	}
}
