package interceptors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// A call of a long method name of a service no one lists costs the suite time in proportion
// to the name's length, however many dots it has: a proxy forwards the names it is sent (a
// :path of a megabyte passes grpc's header limit), and each unknown name is looked up in the
// protobuf registry, whose FindDescriptorByName tries every parent of a name it does not know.
func TestLongUnlistedNameCostsLinearTime(t *testing.T) {
	s, err := interceptors.New(&config.Config{Profiles: map[string]config.Profile{
		config.DefaultProfile: {Retry: &retry.Config{MaxAttempts: 2}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := &testkit.CountingInvoker{}
	for _, svc := range []string{"a", "b"} { // two services no one lists
		name := "/" + strings.Repeat(svc+".", 1<<19) + "Service/Method" // 1 MiB
		start := time.Now()
		if err := s.Unary()(context.Background(), name, nil, nil, nil, ok.Invoke); err != nil {
			t.Fatalf("call of a long name: %v", err)
		}
		// Linear: a few milliseconds, even under the race detector on a busy machine.
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("a call of a %d-byte method name took %v, want a few milliseconds", len(name), took)
		}
	}
}

// Names too long to be kept (a proxy forwards the :path it is sent, which may be megabytes)
// are served as names past the bound on unlisted names, however few came before: an unlisted
// long name of a service whose breaker is per method goes through its service's overflow
// chain, a name of a long unlisted service through the suite's, and neither is kept. 100
// names of 64 KiB of each kind keep no chain, object or memory of their own, and their calls
// stay protected: failures open the overflow breakers, which reject the next long names.
func TestLongNamesAreNotKept(t *testing.T) {
	s := newClocked(t, perMethod(svcUnlisted))
	succeed := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil } // keeps no name
	unary := s.Unary()
	longMethod := func(i int) string { return "/" + svcUnlisted + "/" + testkit.LongName("M", i, 64<<10) }
	longService := func(i int) string { return "/" + testkit.LongName("svc", i, 64<<10) + "/M" }
	// The overflow chains, built before the count.
	for _, name := range []string{longMethod(-1), longService(-1)} {
		if err := unary(context.Background(), name, nil, nil, nil, succeed); err != nil {
			t.Fatalf("a call of a long name: %v", err)
		}
	}
	base := counts(s)
	before := testkit.Heap()
	for i := range 100 {
		for _, name := range []string{longMethod(i), longService(i)} {
			if err := unary(context.Background(), name, nil, nil, nil, succeed); err != nil {
				t.Fatalf("call %d of a long name: %v", i, err)
			}
		}
	}
	grown := int64(testkit.Heap()) - int64(before)
	atMost(t, "100 long names and 100 long services", base, counts(s), 0)
	if grown > 2<<20 {
		t.Errorf("100 long names and 100 long services kept %d bytes, want none", grown)
	}
	if got := interceptors.ChainMethod(s, longMethod(0)); got != "/"+svcUnlisted+"/*" {
		t.Errorf("a long name is served by the chain of %.40q, want its service's overflow chain", got)
	}
	if got := interceptors.ChainMethod(s, longService(0)); got != "/*/*" {
		t.Errorf("a long service's name is served by the chain of %.40q, want the suite's overflow chain", got)
	}
	// A short unlisted name still has a chain of its own.
	if got := interceptors.ChainMethod(s, "/"+svcUnlisted+"/Short"); got != "/"+svcUnlisted+"/Short" {
		t.Errorf("a short unlisted name is served by the chain of %q, want its own", got)
	}

	fail := &testkit.CountingInvoker{Err: unavailable()}
	for _, name := range []func(int) string{longMethod, longService} {
		for i := range 2 {
			_ = unary(context.Background(), name(200+i), nil, nil, nil, fail.Invoke)
		}
		fresh, ok := name(300), &testkit.CountingInvoker{}
		if err := unary(context.Background(), fresh, nil, nil, nil, ok.Invoke); !errors.Is(err, breaker.ErrOpen) || ok.Count(fresh) != 0 {
			t.Errorf("a new long name after two failures of others: %v, reached the server %d times; want breaker.ErrOpen", err, ok.Count(fresh))
		}
	}
}

// The calls of names too long to be kept find their overflow chain without the suite's lock:
// once a service's overflow chain and the suite's are built, no call of a long name misses the
// cache and builds, however many come before the bound on unlisted names is reached. A
// proxy's long names otherwise took the lock and rebuilt the overflow chain at every call.
func TestLongNamesTakeNoBuild(t *testing.T) {
	s := newClocked(t, perMethod(svcUnlisted))
	succeed := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	unary := s.Unary()
	longMethod := func(i int) string { return "/" + svcUnlisted + "/" + testkit.LongName("M", i, 4<<10) }
	longService := func(i int) string { return "/" + testkit.LongName("svc", i, 4<<10) + "/M" }
	for _, name := range []string{longMethod(-1), longService(-1)} { // the overflow chains
		if err := unary(context.Background(), name, nil, nil, nil, succeed); err != nil {
			t.Fatalf("a call of a long name: %v", err)
		}
	}
	builds := 0
	interceptors.SetBeforeBuild(s, func() { builds++ })
	for i := range 10 {
		for _, name := range []string{longMethod(i), longService(i)} {
			if err := unary(context.Background(), name, nil, nil, nil, succeed); err != nil {
				t.Fatalf("call %d of a long name: %v", i, err)
			}
		}
	}
	if builds != 0 {
		t.Errorf("20 calls of long names missed the chain cache %d times, want none (their overflow chains are built)", builds)
	}
	if got := interceptors.ChainMethod(s, longMethod(0)); got != "/"+svcUnlisted+"/*" {
		t.Errorf("a long name is served by the chain of %.40q, want its service's overflow chain", got)
	}
}
