package interceptors_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/protobuf/proto"
)

// Regression: a Message given for a whole service (a service, or "/<service>/*") was not
// checked against its methods' response types, which the registered descriptors tell: New
// took it, and every call of a method it did not fit failed to build its fallback. New now
// checks it against each declared method it serves (one without a reply of its own), and
// refuses one Message for methods that answer different types, naming them and their types.
func TestWithFallbackChecksAServiceMessageAgainstEachMethod(t *testing.T) {
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{config.DefaultProfile: {Fallback: &fallback.Config{}}}}
	ticket := fallback.Message(testkit.FixtureTicket("t-1"))
	score := fallback.Message(testkit.FixtureScore(0.5))
	mixed, same := testkit.FixtureMixed, testkit.FixtureSame
	const mixedTypes = "Open answers testkit.fixture.v1.Ticket, Rate answers testkit.fixture.v1.Score, Peek answers testkit.fixture.v1.Ticket"
	for _, tt := range []struct {
		name    string
		opts    []interceptors.Option
		wantErr []string // empty: New succeeds
	}{
		{"a service whose methods answer different types", []interceptors.Option{interceptors.WithFallback(mixed, ticket)},
			[]string{"WithFallback: " + strconv.Quote(mixed) + " has one Message for methods of " + mixed + " that answer different types (" + mixedTypes + "), and one Message cannot fit them all: give /" + mixed + "/Rate a reply of its own"}},
		{"every method of such a service", []interceptors.Option{interceptors.WithFallback("/"+mixed+"/*", score)},
			[]string{"WithFallback: \"/" + mixed + "/*\" has one Message for methods of " + mixed + " that answer different types (" + mixedTypes + "), and one Message cannot fit them all: give /" + mixed + "/Open, /" + mixed + "/Peek a reply of its own"}},
		{"given by WithValue", []interceptors.Option{interceptors.WithValue(fallback.Replies{mixed: ticket})},
			[]string{"WithValue(fallback.Replies): " + strconv.Quote(mixed) + " has one Message for methods of " + mixed + " that answer different types"}},
		{"WithValue replaces WithFallback's replies", []interceptors.Option{interceptors.WithFallback(mixed, ticket), interceptors.WithValue(fallback.Replies{mixed: ticket})},
			[]string{"WithValue(fallback.Replies): " + strconv.Quote(mixed) + " has one Message"}},
		{"a Message of another type for methods of one type", []interceptors.Option{interceptors.WithFallback(same, score)},
			[]string{"WithFallback: " + strconv.Quote(same) + " has a reply that does not fit the methods of " + same + ": ", "is a testkit.fixture.v1.Score, the method answers testkit.fixture.v1.Ticket"}},
		{"a KYC service", []interceptors.Option{interceptors.WithFallback(svcFaceMatch, fallback.Message(&kycv1.CheckResponse{}))},
			[]string{"WithFallback: " + strconv.Quote(svcFaceMatch) + " has a reply that does not fit the methods of " + svcFaceMatch + ": ", "is a kyc.v1.CheckResponse, the method answers kyc.v1.CompareResponse"}},
		// The methods with replies of their own are not the service Message's to fit.
		{"the other type's method has its own reply", []interceptors.Option{interceptors.WithFallback(mixed, ticket), interceptors.WithFallback("/"+mixed+"/Rate", score)}, nil},
		{"the service's /*  reply serves every method", []interceptors.Option{interceptors.WithFallback(mixed, score), interceptors.WithFallback("/"+mixed+"/*", fallback.Func(func(context.Context, string, any, error) proto.Message { return nil }))}, nil},
		{"one type for all", []interceptors.Option{interceptors.WithFallback(same, ticket), interceptors.WithFallback("/"+same+"/*", ticket)}, nil},
		{"a Func for a service of different types", []interceptors.Option{interceptors.WithFallback(mixed, fallback.Func(func(context.Context, string, any, error) proto.Message { return nil }))}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := interceptors.New(cfg, tt.opts...)
			if s != nil {
				_ = s.Close()
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("New = %v, want nil", err)
				}
				return
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("New = %v; want an error containing %q", err, want)
				}
			}
		})
	}
}
