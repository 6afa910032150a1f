package stub

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// FuzzParseFailSpec: the -fail flag's parser never panics; what it accepts is a valid fault
// profile, and FormatFailSpec writes it back so that it reads the same.
func FuzzParseFailSpec(f *testing.F) {
	for _, s := range []string{"", "unavailable=0.2", "unavailable=0.2,deadline_exceeded=0.05", "UNAVAILABLE = 1",
		"ok=0.1", "unavailable=0.6,internal=0.6", "unavailable=NaN", "unavailable=1e-320", "unavailable", ",", "unavailable=0.1,unavailable=0.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseFailSpec(spec)
		if err != nil {
			if m != nil {
				t.Errorf("ParseFailSpec(%q) = %v with error %v", spec, m, err)
			}
			return
		}
		if err := (Faults{Fail: m}).Validate(); err != nil {
			t.Fatalf("ParseFailSpec(%q) = %v, which Validate refuses: %v", spec, m, err)
		}
		again, err := ParseFailSpec(FormatFailSpec(m))
		if err != nil || !maps.Equal(again, m) {
			t.Errorf("ParseFailSpec(%q) = %v; written %q it reads %v, %v", spec, m, FormatFailSpec(m), again, err)
		}
	})
}

// fuzzStart is the time of fuzzStub's clock.
var fuzzStart = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

// fuzzStub starts a stub for a fuzz target's admin requests, on a fake clock that does not
// move (an outage of 1ns is still under way when its answer is written); it stops with f.
func fuzzStub(f *testing.F) *Stub {
	s, err := Start(context.Background(), Config{Services: []string{ServiceOCR}, StopTimeout: time.Second},
		WithClock(clocktest.New(fuzzStart)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Stop)
	return s
}

// admin sends one request to an admin handler (Stub.AdminHandler), without a listener.
func admin(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, strings.NewReader(body)))
	return w
}

// FuzzAdminFaults: PUT /faults answers 200 with the profile it set, exactly when the body
// reads as a valid profile, and 400 otherwise; nothing panics, and a profile it answers
// reads back the same.
func FuzzAdminFaults(f *testing.F) {
	for _, s := range []string{`{"fail":{"unavailable":1}}`, `{"fail":{},"latency":"20ms","spike_rate":0.01,"spike":"300ms","pushback":"200ms","capacity":4}`,
		`{"fail":{"unavailable":0.5,"UNAVAILABLE":0.25}}`, `{"fail":{"ok":1}}`, `{"latency":"-1s"}`, `{"spike_rate":2}`, `{"bogus":1}`,
		`{"fail":{}} {}`, `{"latency":"9999999999h"}`, `null`, `[]`, ``} {
		f.Add(s)
	}
	h := fuzzStub(f).AdminHandler()
	f.Fuzz(func(t *testing.T, body string) {
		var want Faults
		valid := json.Unmarshal([]byte(body), &want) == nil && want.Validate() == nil
		w := admin(h, http.MethodPut, "/faults", body)
		switch {
		case w.Code != http.StatusOK && w.Code != http.StatusBadRequest:
			t.Fatalf("PUT /faults %q: %d %s", body, w.Code, w.Body)
		case (w.Code == http.StatusOK) != valid:
			t.Fatalf("PUT /faults %q: %d %s; the body reads as a valid profile: %v", body, w.Code, w.Body, valid)
		case w.Code == http.StatusBadRequest:
			return
		}
		var got Faults
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Validate() != nil {
			t.Fatalf("PUT /faults %q answered %s, which does not read back: %v", body, w.Body, err)
		}
		if !maps.Equal(got.Fail, want.Fail) || got.Latency != want.Latency || got.SpikeRate != want.SpikeRate ||
			got.Spike != want.Spike || got.Pushback != want.Pushback || got.Capacity != want.Capacity {
			t.Errorf("PUT /faults %q answered %+v, want %+v", body, got, want)
		}
	})
}

// FuzzAdminOutage: POST /outage?for= starts an outage exactly for a positive duration, one
// that ends that long from now (the fake clock does not move), as its answer and GET /outage
// both say; for anything else it answers 400 with a message that names the parameter and
// quotes the value, and starts no outage. Nothing panics.
func FuzzAdminOutage(f *testing.F) {
	for _, s := range []string{"5s", "1ns", "0", "-1s", "2562047h", "9999999999h", "1.5m", "", "5", "s"} {
		f.Add(s)
	}
	s := fuzzStub(f)
	h := s.AdminHandler()
	f.Fuzz(func(t *testing.T, v string) {
		s.Up()
		d, err := time.ParseDuration(v)
		w := admin(h, http.MethodPost, "/outage?for="+url.QueryEscape(v), "")
		if err != nil || d <= 0 {
			if w.Code != http.StatusBadRequest || s.IsDown() {
				t.Errorf("POST /outage?for=%q: %d %s, down %v; want 400 and no outage", v, w.Code, w.Body, s.IsDown())
			}
			if body := w.Body.String(); !strings.Contains(body, "?for=") || !strings.Contains(body, "got "+strconv.Quote(v)) {
				t.Errorf("POST /outage?for=%q: 400 %q names neither the parameter nor the value", v, body)
			}
			return
		}
		want := OutageState{Down: true, Until: fuzzStart.Add(d).UTC().Format(time.RFC3339Nano)}
		var st OutageState
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &st) != nil || st != want {
			t.Errorf("POST /outage?for=%q: %d %s; want 200 and %+v", v, w.Code, w.Body, want)
		}
		if got := s.OutageState(); got != want || !s.IsDown() {
			t.Errorf("after POST /outage?for=%q: OutageState %+v, down %v; want %+v", v, got, s.IsDown(), want)
		}
	})
}

// FuzzReadTags gives readTags, which reads the images callers send, any bytes: it never
// panics, finds tags only in a JPEG comment that begins with the magic, and reads back each
// fake image the package builds with the person and the flags it was built with.
func FuzzReadTags(f *testing.F) {
	f.Add([]byte{}, int64(0), true, false)
	f.Add(Selfie(7, true), int64(-1), false, true)
	f.Add(DocumentImage(1<<62, true)[:12], int64(-1<<63), true, true)
	f.Add([]byte("\xff\xd8\xff\xfe\x00\x01"), int64(3), false, false)
	f.Add([]byte("\xff\xd8\xff\xfe\x00\x0cmlstub/v1 seed=x face"), int64(3), false, false)
	f.Fuzz(func(t *testing.T, img []byte, seed int64, a, b bool) {
		got := readTags(img)
		if got.marked && !bytes.HasPrefix(img, []byte("\xff\xd8\xff\xfe")) {
			t.Fatalf("readTags(%q) found tags outside a JPEG comment", img)
		}
		if !got.marked && (got != tags{face: len(img) > 0, live: len(img) > 0, readable: len(img) > 0}) {
			t.Fatalf("readTags(%q) = %+v for an unmarked image", img, got)
		}
		for _, c := range []struct {
			img  []byte
			want tags
		}{
			// A flag an image does not set reads as it does for an ordinary image: true.
			{Selfie(seed, a), tags{kind: "selfie", face: a, live: true, readable: true}},
			{DocumentImage(seed, a), tags{kind: "document", face: !a, live: true, readable: !a}},
			{ExpiredDocumentImage(seed), tags{kind: "document", face: true, live: true, readable: true, expired: true}},
			{Frames(seed, 1, b)[0], tags{kind: "frame", face: true, live: b, readable: true}},
		} {
			c.want.marked, c.want.seed = true, seed
			if got := readTags(c.img); got != c.want {
				t.Fatalf("readTags(%q) = %+v, want %+v", c.img, got, c.want)
			}
		}
	})
}
