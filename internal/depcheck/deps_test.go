package depcheck

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const module = "github.com/bulwarkrpc/bulwark"

// providers are the packages that may bring heavy dependencies: they sit outside the core.
var providers = []string{
	module + "/interceptors/ratelimit/redislimit",
	module + "/observe/promobs",
	module + "/observe/zapobs",
	module + "/observe/otelobs",
}

// allowed reports whether the core may depend on path.
func allowed(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	if !strings.Contains(first, ".") || strings.HasPrefix(path, "vendor/") {
		return true // the standard library
	}
	for _, p := range []string{"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto/",
		"golang.org/x/", "go.yaml.in/yaml/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	if strings.HasPrefix(path, module+"/") || path == module {
		return !slices.ContainsFunc(providers, func(p string) bool { return path == p || strings.HasPrefix(path, p+"/") })
	}
	return false
}

// TestCoreDependencies: go list -deps of the core shows no Redis, Prometheus, zap or
// OpenTelemetry, nor any other module outside gRPC, protobuf, golang.org/x and YAML, and no
// provider package.
func TestCoreDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root := filepath.Join("..", "..")
	patterns := []string{"./codes", "./clock", "./config", "./section", "./observe", "./interceptors/..."}
	out, err := exec.Command(goBin, append([]string{"list", "-C", root, "-f", "{{.ImportPath}} {{join .Deps \" \"}}"}, patterns...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		if !allowed(pkg) {
			continue // a provider under interceptors/... (redislimit) is not core
		}
		checked++
		for _, dep := range fields[1:] {
			if !allowed(dep) {
				t.Errorf("%s depends on %s: the core depends on grpc, protobuf, golang.org/x and yaml only (heavy clients belong to provider packages)", pkg, dep)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d core packages; go list printed:\n%s", checked, out)
	}
}

// TestAllowed pins the rule on the names the issue lists.
func TestAllowed(t *testing.T) {
	for path, want := range map[string]bool{
		"context": true, "vendor/golang.org/x/net/idna": true,
		"google.golang.org/grpc/codes": true, "google.golang.org/protobuf/proto": true, "golang.org/x/time/rate": true,
		module + "/interceptors/breaker": true, module + "/config": true,
		"github.com/redis/go-redis/v9": false, "github.com/go-redis/redis_rate/v10": false,
		"github.com/prometheus/client_golang/prometheus": false, "go.uber.org/zap": false,
		"go.opentelemetry.io/otel/trace": false, module + "/observe/promobs": false,
		module + "/interceptors/ratelimit/redislimit": false,
	} {
		if got := allowed(path); got != want {
			t.Errorf("allowed(%q) = %v, want %v", path, got, want)
		}
	}
}
