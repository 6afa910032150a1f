package fallback_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/protobuf/proto"
)

// FuzzNewTarget gives New any target and reply_json (or a Func reply): it never panics, an
// error names the target, and a fallback it builds covers what its target names (the method;
// every method of the service of a service or a "/<service>/*").
func FuzzNewTarget(f *testing.F) {
	for _, s := range []struct{ target, json string }{
		{testkit.MethodExtract, `{"confidence": 0.1}`}, {testkit.MethodExtract, `{"similarity": 0.5}`}, {testkit.MethodExtract, `{`},
		{"/kyc.v1.OCRService/*", `{}`}, {"kyc.v1.OCRService", `{}`}, {"/kyc.v1.OCRService/", ""}, {"//", ""}, {"/", ""},
		{"/a/b/c", `{}`}, {"a/b", ""}, {"", ""}, {"/kyc.v9.Nope/Scan", `{}`}, {"/kyc.v1.OCRService", `null`},
	} {
		f.Add(s.target, s.json, false)
		f.Add(s.target, s.json, true)
	}
	f.Fuzz(func(t *testing.T, target, replyJSON string, withFunc bool) {
		var reply fallback.Reply
		if withFunc {
			reply = fallback.Func(func(context.Context, string, any, error) proto.Message { return nil })
		}
		fb, err := fallback.New(target, fallback.Config{ReplyJSON: replyJSON}, reply)
		if err != nil {
			if fb != nil {
				t.Fatalf("New(%q) = %v and %v", target, fb, err)
			}
			if msg := err.Error(); !strings.Contains(msg, target) && !strings.Contains(msg, strconv.Quote(target)) {
				t.Fatalf("New(%q): error %q does not name the target", target, msg)
			}
			return
		}
		if fb.Target() != target {
			t.Fatalf("New(%q).Target() = %q", target, fb.Target())
		}
		service, method, isMethod := strings.Cut(strings.TrimPrefix(target, "/"), "/")
		if !strings.HasPrefix(target, "/") {
			service, method, isMethod = target, "", false
		}
		if isMethod {
			if i := strings.LastIndexByte(target, '/'); i > 0 {
				service, method = target[1:i], target[i+1:]
			}
			if service == "" || method == "" {
				t.Fatalf("New(%q) accepted a full method with no service or no method", target)
			}
		}
		if method != "*" && isMethod {
			if !fb.Covers(target) || fb.Covers("/"+service+"/"+method+"x") {
				t.Fatalf("New(%q) covers other methods than its own", target)
			}
			return
		}
		if !fb.Covers("/"+service+"/Any") || fb.Covers("/"+service+"x/Any") {
			t.Fatalf("New(%q) does not cover its service's methods, or covers others", target)
		}
	})
}
