package breaker

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The registry interceptors keep no breaker named by a name longer than 1024 bytes (a proxy
// forwards the :path it is sent, which may be megabytes): such calls share the breaker of the
// long names of their service ("/<service>/*", ScopeMethod) or of all long names ("/*/*", or
// "*" with ScopeService), which protects them: two failures open it for the next long name.
func TestRegistryKeepsNoLongName(t *testing.T) {
	longMethod := func(i int) string { return "/s.v1.S/" + testkit.LongName("M", i, 64<<10) }
	longService := func(i int) string { return "/" + testkit.LongName("svc", i, 64<<10) + "/M" }
	for _, tc := range []struct {
		name  string
		scope Scope
		names []func(int) string
		want  []string // the breakers the registry holds after the calls
	}{
		{"method", ScopeMethod, []func(int) string{longMethod, longService}, []string{"/*/*", "/s.v1.S/*"}},
		{"service", ScopeService, []func(int) string{longService}, []string{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reg Registry
			clk := clocktest.New(time.Unix(1700000000, 0))
			ic, err := UnaryClientInterceptor(Config{Scope: tc.scope, ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}, WithRegistry(&reg), WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			succeed := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
			before := testkit.Heap()
			for i := range 100 {
				for _, name := range tc.names {
					if err := ic(context.Background(), name(i), nil, nil, nil, succeed); err != nil {
						t.Fatalf("call %d of a long name: %v", i, err)
					}
				}
			}
			grown := int64(testkit.Heap()) - int64(before)
			var held []string
			long := 0
			reg.Each(func(name string, b *Breaker) {
				if len(name) > grpcmethod.MaxKeptName || len(b.service) > grpcmethod.MaxKeptName || len(b.method) > grpcmethod.MaxKeptName {
					long++
					return
				}
				held = append(held, name)
			})
			if long != 0 || !slices.Equal(held, tc.want) {
				t.Errorf("the registry holds %d breakers of long names and %q, want %q", long, held, tc.want)
			}
			if grown > 2<<20 {
				t.Errorf("calls of long names kept %d bytes, want none", grown)
			}
			unavailable := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				return status.Error(grpccodes.Unavailable, "down")
			}
			for _, name := range tc.names {
				for i := range 2 {
					_ = ic(context.Background(), name(200+i), nil, nil, nil, unavailable)
				}
				if err := ic(context.Background(), name(300), nil, nil, nil, succeed); !errors.Is(err, ErrOpen) {
					t.Errorf("a new long name after two failures of others: %v, want ErrOpen", err)
				}
			}
		})
	}
}

// A proxy forwarding the :path it is sent can name any number of services: past
// cowmap.MaxKeys breakers, the registry interceptors give a new name the breaker of the names
// not kept ("*", or "/*/*" and "/<service>/*" with ScopeMethod), as they do a long name.
func TestRegistryBoundsItsBreakers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope Scope
		past  string // the breaker a name past the bound takes
	}{
		{"service", ScopeService, "*"},
		{"method", ScopeMethod, "/*/*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reg Registry
			ic, err := UnaryClientInterceptor(Config{Scope: tc.scope, ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}, WithRegistry(&reg), WithClock(clocktest.New(time.Unix(1700000000, 0))))
			if err != nil {
				t.Fatal(err)
			}
			succeed := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
			for i := range cowmap.MaxKeys + 300 {
				if err := ic(context.Background(), "/svc"+strconv.Itoa(i)+".S/M", nil, nil, nil, succeed); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			n := 0
			reg.Each(func(string, *Breaker) { n++ })
			if n > cowmap.MaxKeys+1 {
				t.Errorf("the registry holds %d breakers after %d names, want at most %d and the shared one", n, cowmap.MaxKeys+300, cowmap.MaxKeys)
			}
			if _, ok := reg.Lookup(tc.past); !ok {
				t.Errorf("no breaker %q for the names past the bound", tc.past)
			}
			// A name kept before the bound keeps its own breaker; one past it shares.
			if _, ok := reg.Lookup(map[Scope]string{ScopeService: "svc1.S", ScopeMethod: "/svc1.S/M"}[tc.scope]); !ok {
				t.Errorf("the first names lost their breakers")
			}
		})
	}
}
