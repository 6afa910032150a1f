package interceptors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
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
