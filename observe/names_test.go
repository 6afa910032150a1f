package observe_test

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bulwarkrpc/bulwark/observe"
)

func TestClip(t *testing.T) {
	short := "/kyc.v1.OCRService/Extract"
	if got := observe.Clip(short); got != short {
		t.Errorf("Clip(%q) = %q, want it unchanged", short, got)
	}
	exact := strings.Repeat("a", observe.MaxKeptName)
	if got := observe.Clip(exact); got != exact {
		t.Errorf("a name of MaxKeptName bytes was clipped to %d bytes", len(got))
	}
	long := "/" + strings.Repeat("s", 64<<10) + "/M"
	got := observe.Clip(long)
	want := long[:observe.MaxKeptName] + "…(+" + strconv.Itoa(len(long)-observe.MaxKeptName) + " bytes)"
	if got != want {
		t.Errorf("Clip of a 64 KiB name = %q…%q (%d bytes), want the first %d bytes and how many were left out", got[:20], got[len(got)-20:], len(got), observe.MaxKeptName)
	}
	// A multi-byte character across the bound is left out whole: the result stays valid UTF-8.
	for pad := range 4 {
		name := strings.Repeat("x", observe.MaxKeptName-pad) + strings.Repeat("é€😀", 400)
		if got := observe.Clip(name); !utf8.ValidString(got) || len(got) > observe.MaxKeptName+32 {
			t.Errorf("pad %d: Clip gave %d bytes, valid UTF-8 %v", pad, len(got), utf8.ValidString(got))
		}
	}
	// Invalid UTF-8 is cut at most three bytes short, not walked back through.
	bad := strings.Repeat("\x80", 4096)
	if got := observe.Clip(bad); !strings.HasPrefix(got, bad[:observe.MaxKeptName-3]) {
		t.Errorf("Clip of invalid UTF-8 kept %d bytes of it, want at least %d", strings.Index(got, "…"), observe.MaxKeptName-3)
	}
	if n := testing.AllocsPerRun(100, func() { _ = observe.Clip(short) }); n != 0 {
		t.Errorf("Clip of a short name allocates %v times", n)
	}
}
