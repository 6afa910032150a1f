package interceptors_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// Regression: WithFallback took a reply that answers nothing (nil, Func(nil), Message(nil)).
// For a service the configuration does not list (its chains built at its first call) New
// succeeded, and then every call of the service, successful ones included, failed with
// FailedPrecondition "fallback: ...: Func(nil) is not a reply"; with a reply_json in the
// profile, a nil reply was silently dropped for it. New now refuses it, naming the option and
// its target.
func TestWithFallbackRefusesANilReply(t *testing.T) {
	cfg := &config.Config{Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{config.DefaultProfile: {Fallback: &fallback.Config{ReplyJSON: `{"similarity": 0.1}`}}}}
	for _, target := range []string{svcFaceMatch, "/" + svcFaceMatch + "/*", testkit.MethodCompare} {
		for _, tt := range []struct {
			name  string
			reply fallback.Reply
		}{{"nil", nil}, {"Func(nil)", fallback.Func(nil)}, {"Message(nil)", fallback.Message(nil)}} {
			s, err := interceptors.New(cfg, interceptors.WithFallback(target, tt.reply))
			if s != nil {
				_ = s.Close()
			}
			if want := "WithFallback: " + strconv.Quote(target) + " "; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nil") {
				t.Errorf("WithFallback(%q, %s): New = %v; want an error containing %q and naming the nil reply", target, tt.name, err, want)
			}
		}
	}
}

// Regression: the replies given by WithValue(fallback.Replies{...}) took a reply that answers
// nothing as WithFallback did, with the same effect (every call of an unlisted service failed).
// New refuses it, naming the option and the target.
func TestWithValueRepliesRefusesANilReply(t *testing.T) {
	cfg := &config.Config{Budget: 5 * time.Second}
	for _, tt := range []struct {
		name  string
		reply fallback.Reply
	}{{"nil", nil}, {"Func(nil)", fallback.Func(nil)}, {"Message(nil)", fallback.Message(nil)}} {
		s, err := interceptors.New(cfg, interceptors.WithValue(fallback.Replies{svcFaceMatch: tt.reply}))
		if s != nil {
			_ = s.Close()
		}
		if want := "WithValue(fallback.Replies): " + strconv.Quote(svcFaceMatch) + " "; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nil") {
			t.Errorf("WithValue(fallback.Replies{%q: %s}): New = %v; want an error containing %q and naming the nil reply", svcFaceMatch, tt.name, err, want)
		}
	}
}
