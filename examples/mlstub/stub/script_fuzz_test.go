package stub

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// FuzzReadScript: the scripting metadata never panics; a malformed value is an InvalidArgument
// error naming its key, and what is accepted is what each value says.
func FuzzReadScript(f *testing.F) {
	f.Add("r1", "2", "unavailable", "300ms", "1", "200ms")
	f.Add("", "1", "", "", "", "")
	f.Add("r", "-1", "ok", "-1s", "x", "1e3")
	f.Add("r", "+3", " DEADLINE_EXCEEDED ", "0", "0", "9999999999h")
	f.Fuzz(func(t *testing.T, id, failFirst, failCode, delay, delayFirst, pushback string) {
		md := metadata.MD{}
		for _, kv := range [][2]string{{MDRequestID, id}, {MDFailFirst, failFirst}, {MDFailCode, failCode},
			{MDDelay, delay}, {MDDelayFirst, delayFirst}, {MDPushback, pushback}} {
			if kv[1] != "" {
				md.Set(kv[0], kv[1])
			}
		}
		sc, err := readScript(md)
		if err != nil {
			st, _ := status.FromError(err)
			if st.Code() != grpccodes.InvalidArgument {
				t.Fatalf("readScript(%v): %v, want InvalidArgument", md, err)
			}
			keys := []string{MDFailFirst, MDFailCode, MDDelay, MDDelayFirst, MDPushback}
			if !slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(st.Message(), k) }) {
				t.Fatalf("readScript(%v): %v names no key", md, err)
			}
			return
		}
		count := func(v string) int {
			if v == "" {
				return 0
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 0 && id == "" {
				t.Fatalf("readScript(%v) accepted count %q", md, v)
			}
			return n
		}
		dur := func(v string) time.Duration {
			if v == "" {
				return 0
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				t.Fatalf("readScript(%v) accepted duration %q", md, v)
			}
			return d
		}
		if sc.id != id || sc.failFirst != count(failFirst) || sc.delayFirst != count(delayFirst) ||
			sc.hasDelayFirst != (delayFirst != "") || sc.delay != dur(delay) || sc.pushback != dur(pushback) ||
			sc.hasPushback != (pushback != "") {
			t.Fatalf("readScript(%v) = %+v", md, sc)
		}
		if failCode == "" {
			if sc.failCode != grpccodes.Unavailable {
				t.Fatalf("readScript(%v): default code %v", md, sc.failCode)
			}
		} else if c, err := ParseCode(failCode); err != nil || c != sc.failCode || c == grpccodes.OK {
			t.Fatalf("readScript(%v): code %v from %q", md, sc.failCode, failCode)
		}
	})
}

// FuzzParseServices: the -services list never panics; what it accepts is a non-empty list of
// known services without repeats, which reads back the same once joined.
func FuzzParseServices(f *testing.F) {
	for _, s := range []string{"", "ocr", "liveness,facematch,ocr", " ocr , ocr", ",,ocr,", "OCR", "bogus"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseServices(s)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseServices(%q) = %v with %v", s, got, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("ParseServices(%q) = empty list", s)
		}
		seen := map[string]bool{}
		for _, name := range got {
			if !slices.Contains(AllServices(), name) || seen[name] {
				t.Fatalf("ParseServices(%q) = %v", s, got)
			}
			seen[name] = true
		}
		if err := (Config{Services: got}).Validate(); err != nil {
			t.Fatalf("ParseServices(%q) = %v, which Validate refuses: %v", s, got, err)
		}
		again, err := ParseServices(strings.Join(got, ","))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("ParseServices(%q) = %v; joined it reads %v, %v", s, got, again, err)
		}
	})
}
