package fallback_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// embeddedReply is a program's type that embeds a Reply: it has the Reply's method, so it is
// a fallback.Reply to the compiler, without being one Message or Func made.
type embeddedReply struct{ fallback.Reply }

// Regression: a type embedding a Reply passed CheckReply, which the suite's options use, and
// was refused by New ("unknown Reply"), so that a suite took it and failed the calls whose
// chains it built. The two now apply one rule: a Reply is one that Message or Func returns.
func TestEmbeddedReplyIsRefusedByCheckReplyAndNew(t *testing.T) {
	const rule = "is not a Reply: a Reply is one that Message or Func returns"
	for _, tt := range []struct {
		name  string
		reply fallback.Reply
	}{
		{"embeds a Message", embeddedReply{fallback.Message(&kycv1.CompareResponse{Similarity: 0.5})}},
		{"embeds a nil Reply", embeddedReply{}},
		{"pointer", &embeddedReply{fallback.Message(&kycv1.CompareResponse{})}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkErr := fallback.CheckReply(tt.reply)
			_, newErr := fallback.New(testkit.MethodCompare, fallback.Config{}, tt.reply)
			for _, got := range []struct {
				what string
				err  error
			}{{"CheckReply", checkErr}, {"New", newErr}} {
				if got.err == nil || !strings.Contains(got.err.Error(), rule) || !strings.Contains(got.err.Error(), "embeddedReply") {
					t.Errorf("%s = %v; want an error naming the type and containing %q", got.what, got.err, rule)
				}
			}
		})
	}
	// Message and Func are taken by both, as before.
	if err := fallback.CheckReply(fallback.Message(&kycv1.CompareResponse{})); err != nil {
		t.Errorf("CheckReply(Message) = %v", err)
	}
	if _, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(&kycv1.CompareResponse{})); err != nil {
		t.Errorf("New(Message) = %v", err)
	}
}
