package interceptors_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestStreamHeaderAfterHeaderlessFailure: through the suite, a Check stream whose first
// attempt the server fails at once (no header: a trailers-only status) and whose caller reads
// the header before receiving. When the status is retried, one Header returns the second
// attempt's header, and the call is one success of two attempts. When it is not, Header
// returns nil, nil, as gRPC's does, and the call ends at CloseAndRecv with that status,
// reported once.
func TestStreamHeaderAfterHeaderlessFailure(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first grpccodes.Code
	}{
		{name: "retried", first: grpccodes.Unavailable},
		{name: "not retried", first: grpccodes.InvalidArgument},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, threeProfiles(), &testkit.Server{CheckF: func(call int, st kycv1.LivenessService_CheckServer) error {
				if call == 1 {
					return status.Error(tt.first, "refused at once")
				}
				if err := st.SendHeader(metadata.Pairs("attempt", "2")); err != nil {
					return err
				}
				return testkit.DrainCheck(st, 0.9)
			}})
			st, err := e.live.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(&kycv1.CheckRequest{Index: 0}); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			md, err := st.Header()
			_, rerr := st.CloseAndRecv()
			testkit.Eventually(t, "no CallFinished", func() bool { return len(e.rec.Events(observe.CallFinished)) > 0 })
			calls := e.rec.Events(observe.CallFinished)
			if tt.first == grpccodes.Unavailable {
				if err != nil || len(md.Get("attempt")) != 1 || md.Get("attempt")[0] != "2" {
					t.Fatalf("Header = %v, %v; want the second attempt's header", md, err)
				}
				if rerr != nil {
					t.Fatalf("CloseAndRecv = %v, want the second attempt's reply", rerr)
				}
				if len(calls) != 1 || calls[0].Code != grpccodes.OK || calls[0].Attempt != 2 {
					t.Fatalf("CallFinished %+v, want one: OK after 2 attempts", calls)
				}
				return
			}
			if md != nil || err != nil {
				t.Fatalf("Header = %v, %v; want nil, nil (the status is the receive's), as gRPC's", md, err)
			}
			if status.Code(rerr) != tt.first {
				t.Fatalf("CloseAndRecv = %v, want %v", rerr, tt.first)
			}
			if len(calls) != 1 || calls[0].Code != tt.first || calls[0].Attempt != 1 {
				t.Fatalf("CallFinished %+v, want one: %v after 1 attempt", calls, tt.first)
			}
		})
	}
}
