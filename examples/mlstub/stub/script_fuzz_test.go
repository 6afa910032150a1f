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
// error naming its key (the first malformed one, in the order readScript reads them) and
// quoting the value, and what is accepted is what each value says.
func FuzzReadScript(f *testing.F) {
	f.Add("r1", "2", "unavailable", "300ms", "1", "200ms")
	f.Add("", "1", "", "", "", "")
	f.Add("r", "-1", "ok", "-1s", "x", "1e3")
	f.Add("r", "+3", " DEADLINE_EXCEEDED ", "0", "0", "9999999999h")
	f.Add("r", "1", "internal", "x", "1", "1s")
	f.Add("", "0", "", "1s", "2", "")
	f.Fuzz(func(t *testing.T, id, failFirst, failCode, delay, delayFirst, pushback string) {
		in := []string{id, failFirst, failCode, delay, delayFirst, pushback} // metadata.MD prints redacted
		md := metadata.MD{}
		for _, kv := range [][2]string{{MDRequestID, id}, {MDFailFirst, failFirst}, {MDFailCode, failCode},
			{MDDelay, delay}, {MDDelayFirst, delayFirst}, {MDPushback, pushback}} {
			if kv[1] != "" {
				md.Set(kv[0], kv[1])
			}
		}
		// The message each value would earn, "" for a value that is absent or well-formed.
		countMsg := func(key, v string) string {
			if v == "" {
				return ""
			}
			n, err := strconv.Atoi(v)
			switch {
			case err != nil || n < 0:
				return "mlstub: metadata " + key + ": want a non-negative integer, got " + strconv.Quote(v)
			case n > 0 && id == "":
				return "mlstub: metadata " + key + ": " + strconv.Quote(v) + " needs " + MDRequestID
			}
			return ""
		}
		durMsg := func(key, v string) string {
			if d, err := time.ParseDuration(v); v != "" && (err != nil || d < 0) {
				return "mlstub: metadata " + key + ": want a non-negative Go duration such as 300ms, got " + strconv.Quote(v)
			}
			return ""
		}
		codeMsg := ""
		if _, err := ParseCode(failCode); failCode != "" && err != nil {
			codeMsg = "mlstub: metadata " + MDFailCode + ": want a gRPC error code in snake_case such as unavailable, got " + strconv.Quote(failCode)
		}
		var wantMsg string
		for _, m := range []string{countMsg(MDFailFirst, failFirst), countMsg(MDDelayFirst, delayFirst), codeMsg,
			durMsg(MDDelay, delay), durMsg(MDPushback, pushback)} {
			if m != "" {
				wantMsg = m
				break
			}
		}
		sc, err := readScript(md)
		if err != nil || wantMsg != "" {
			st, _ := status.FromError(err)
			if err == nil || st.Code() != grpccodes.InvalidArgument || st.Message() != wantMsg {
				t.Fatalf("readScript(%q): %v, want InvalidArgument %q", in, err, wantMsg)
			}
			return
		}
		count := func(v string) int {
			n, _ := strconv.Atoi(v) // well-formed, or empty: 0
			return n
		}
		dur := func(v string) time.Duration {
			d, _ := time.ParseDuration(v) // well-formed, or empty: 0
			return d
		}
		if sc.id != id || sc.failFirst != count(failFirst) || sc.delayFirst != count(delayFirst) ||
			sc.hasDelayFirst != (delayFirst != "") || sc.delay != dur(delay) || sc.pushback != dur(pushback) ||
			sc.hasPushback != (pushback != "") {
			t.Fatalf("readScript(%q) = %+v", in, sc)
		}
		if failCode == "" {
			if sc.failCode != grpccodes.Unavailable {
				t.Fatalf("readScript(%q): default code %v", in, sc.failCode)
			}
		} else if c, err := ParseCode(failCode); err != nil || c != sc.failCode || c == grpccodes.OK {
			t.Fatalf("readScript(%q): code %v from %q", in, sc.failCode, failCode)
		}
	})
}

// FuzzParseServices: the -services list never panics; what it accepts is its non-empty
// entries, trimmed, in order: known services without repeats, which read back the same once
// joined. What it refuses, it refuses for the first entry that is unknown or repeated, quoted,
// or for giving none.
func FuzzParseServices(f *testing.F) {
	for _, s := range []string{"", "ocr", "liveness,facematch,ocr", " ocr , ocr", ",,ocr,", "OCR", "bogus", "ocr,bogus,ocr", "\tocr\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var entries []string
		wantErr := ""
		for e := range strings.SplitSeq(s, ",") {
			e = strings.TrimSpace(e)
			switch {
			case e == "" || wantErr != "":
			case !slices.Contains(AllServices(), e):
				wantErr = "unknown service " + strconv.Quote(e) + " (want one of liveness, facematch, ocr)"
			case slices.Contains(entries, e):
				wantErr = "service " + strconv.Quote(e) + " given twice"
			default:
				entries = append(entries, e)
			}
		}
		if wantErr == "" && len(entries) == 0 {
			wantErr = "no service given (want one or more of liveness, facematch, ocr)"
		}
		got, err := ParseServices(s)
		if err != nil || wantErr != "" {
			if got != nil || err == nil || err.Error() != wantErr {
				t.Fatalf("ParseServices(%q) = %v, %v; want the error %q", s, got, err, wantErr)
			}
			return
		}
		if !slices.Equal(got, entries) {
			t.Fatalf("ParseServices(%q) = %v, want %v", s, got, entries)
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
