package fallback_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// TestServedCarriesTheReason: FallbackServed said the code and class of the error it answered
// but not its ErrorInfo reason, which CallFinished and Rejected carry: a fallback that answered
// an open breaker (CIRCUIT_OPEN) could not be told from one that answered a full bulkhead, both
// Unavailable/rejected or close to it.
func TestServedCarriesTheReason(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"our refusal", &codes.Rejection{Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: observe.PolicyBreaker}, "CIRCUIT_OPEN"},
		{"the server's ErrorInfo", testkit.Status(grpccodes.Unavailable, "BACKEND_DOWN"), "BACKEND_DOWN"},
		{"no ErrorInfo", testkit.Status(grpccodes.Unavailable, ""), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &testkit.Recorder{}
			f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded), fallback.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Recover(context.Background(), testkit.MethodCompare, nil, &kycv1.CompareResponse{}, tt.err); err != nil {
				t.Fatal(err)
			}
			evs := rec.Events(observe.FallbackServed)
			if len(evs) != 1 || evs[0].Reason != tt.want {
				t.Fatalf("FallbackServed events %+v, want one with Reason %q", evs, tt.want)
			}
		})
	}
}

// CheckReply refuses the replies that answer nothing, and those alone.
func TestCheckReply(t *testing.T) {
	var nilResp *kycv1.CompareResponse
	fn := func(context.Context, string, any, error) proto.Message { return nil }
	for _, tt := range []struct {
		name  string
		reply fallback.Reply
		ok    bool
	}{
		{"nil", nil, false},
		{"Func(nil)", fallback.Func(nil), false},
		{"Message(nil)", fallback.Message(nil), false},
		{"Message of a nil pointer", fallback.Message(nilResp), false},
		{"Func", fallback.Func(fn), true},
		{"Message", fallback.Message(degraded), true},
	} {
		if err := fallback.CheckReply(tt.reply); (err == nil) != tt.ok {
			t.Errorf("CheckReply(%s) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
