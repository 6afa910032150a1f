package depcheck

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testOnly are modules the core's tests use: go mod tidy lists them in go.mod, and a user's
// module graph gets their go.mod, never their packages.
var testOnly = []string{"go.uber.org/goleak"}

// heavy are the modules the split keeps out of the core's module graph: each belongs to a
// provider module (or to the examples and tests).
var heavy = []string{
	"github.com/prometheus/", "go.uber.org/zap", "github.com/redis/", "github.com/go-redis/",
	"github.com/grpc-ecosystem/", "go.opentelemetry.io/contrib/instrumentation/", "go.opentelemetry.io/otel/exporters/",
}

// providerInternals are the core's internal packages a provider module imports in its non-test
// code. Go allows it (the import paths share the core's prefix), but internal packages carry
// no compatibility promise, so each one ties the provider's release to the core's: the list
// only grows by a decision, here.
var providerInternals = map[string][]string{
	// promobs' label caches are the core's copy-on-write map with the core's front table in
	// front of it (the suite's chain lookup uses the same table): one implementation of each.
	// fastobs: the fused record of a call that succeeds at once (fastobs.SuccessRecorder),
	// which only a provider's chain sink can implement, and which no user should.
	// breakerstates: Replaces, the rule by which a breaker's event replaces the state kept of
	// its name, which its series of a breaker no source reads must follow as the log lines
	// and the spans do.
	"observe/promobs": {module + "/internal/breakerstates", module + "/internal/cowmap", module + "/internal/fastobs", module + "/internal/front"},
	// breakerstates: the last state of each breaker, the order in which a call's breaker is
	// found (its method's, its service's overflow chain's, its service's), the rule for a
	// retired breaker and the bound, which the log lines and the spans must read alike.
	"observe/zapobs": {module + "/internal/breakerstates"},
	// streamend: when a stream is over (read to its end, failed, or abandoned unread), as
	// the suite's policies and its CallFinished see it; the tracer ends a stream's span at
	// the same end, which a second reading of gRPC's stream rules would drift from.
	// breakerstates: as for zapobs, whose breaker field and the tracer's
	// bulwark.breaker.state must name the same breaker's state.
	"observe/otelobs":                   {module + "/internal/streamend", module + "/internal/breakerstates"},
	"interceptors/ratelimit/redislimit": {module + "/internal/fielderr"},
}

func goCommand(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	return goBin
}

type goMod struct {
	Module  struct{ Path string }
	Require []struct {
		Path     string
		Version  string
		Indirect bool
	}
}

// readGoMod is go mod edit -json of the go.mod in dir.
func readGoMod(t *testing.T, goBin, dir string) goMod {
	t.Helper()
	cmd := exec.Command(goBin, "mod", "edit", "-json")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod edit -json in %s: %v", dir, err)
	}
	var m goMod
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("go mod edit -json in %s: %v\n%s", dir, err, out)
	}
	return m
}

// TestCoreGoModRequires: the core's go.mod requires gRPC, protobuf, golang.org/x, YAML and the
// test-only goleak, directly or indirectly, and nothing else — no Prometheus, zap, Redis,
// OpenTelemetry or go-grpc-middleware, which a user of the core would otherwise find in its
// module graph and have MVS raise its own versions of.
func TestCoreGoModRequires(t *testing.T) {
	goBin := goCommand(t)
	m := readGoMod(t, goBin, filepath.Join("..", ".."))
	if m.Module.Path != module {
		t.Fatalf("the root go.mod is module %q, want %q", m.Module.Path, module)
	}
	if len(m.Require) < 3 {
		t.Fatalf("the root go.mod requires %d modules; go mod edit -json gave %+v", len(m.Require), m)
	}
	for _, r := range m.Require {
		if !allowed(r.Path) && !slices.Contains(testOnly, r.Path) {
			t.Errorf("the core's go.mod requires %s %s: it may require gRPC, protobuf, golang.org/x, YAML and %v only; a provider's dependency goes in the provider's go.mod", r.Path, r.Version, testOnly)
		}
	}
}

// TestCoreModuleGraph: the core's module graph, as its go.mod and its dependencies' go.mod
// files make it (GOWORK=off go list -m all), has none of the providers' modules. (It does
// have go.opentelemetry.io/otel, otel/sdk and friends: grpc's own go.mod requires them, at
// grpc's versions.)
func TestCoreModuleGraph(t *testing.T) {
	goBin := goCommand(t)
	cmd := exec.Command(goBin, "list", "-m", "all")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOWORK=off go list -m all: %v\n%s", err, out)
	}
	n := 0
	for line := range strings.Lines(string(out)) {
		path, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		n++
		if strings.HasPrefix(path, module+"/") {
			t.Errorf("the core's module graph holds %s: the core requires none of its own nested modules", path)
		}
		for _, h := range heavy {
			if strings.HasPrefix(path, h) {
				t.Errorf("the core's module graph holds %s (a provider's dependency)", strings.TrimSpace(line))
			}
		}
	}
	if n < 5 {
		t.Fatalf("go list -m all printed %d modules:\n%s", n, out)
	}
}

// TestProvidersAreModules: each provider is a module of its own (its directory holds the
// go.mod of its import path), and its non-test code imports no internal package of the core
// beyond providerInternals.
func TestProvidersAreModules(t *testing.T) {
	goBin := goCommand(t)
	for _, p := range providers {
		dir, ok := strings.CutPrefix(p, module+"/")
		if !ok {
			t.Fatalf("provider %s is outside %s", p, module)
		}
		want, listed := providerInternals[dir]
		if !listed {
			t.Errorf("provider %s has no entry in providerInternals", dir)
		}
		root := filepath.Join("..", "..", filepath.FromSlash(dir))
		if m := readGoMod(t, goBin, root); m.Module.Path != p {
			t.Errorf("%s/go.mod is module %q, want %q: a provider is a module of its own", dir, m.Module.Path, p)
		}
		cmd := exec.Command(goBin, "list", "-f", `{{join .Imports "\n"}}`, "./...")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list in %s: %v\n%s", dir, err, out)
		}
		var got []string
		for line := range strings.Lines(string(out)) {
			imp := strings.TrimSpace(line)
			if strings.HasPrefix(imp, module+"/internal/") && !slices.Contains(got, imp) {
				got = append(got, imp)
			}
		}
		for _, imp := range got {
			if !slices.Contains(want, imp) {
				t.Errorf("provider %s imports %s: an internal package of the core ties the provider's releases to the core's; export what it needs, or add it to providerInternals with the reason", dir, imp)
			}
		}
	}
}
