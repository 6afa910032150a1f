package fielderr_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPrefix(t *testing.T) {
	var c fielderr.Checker
	c.Check(false, "max_attempts", 0, "is below 1")
	c.Check(true, "never", 1, "x")
	c.Add("initial_backoff", -time.Second, "is negative")
	err := fielderr.Prefix("retry", c.Err())
	err = fielderr.Prefix("services."+fielderr.Key("kyc.v1.OCRService"), err)
	want := "services.\"kyc.v1.OCRService\".retry.max_attempts: 0 is below 1\n" +
		"services.\"kyc.v1.OCRService\".retry.initial_backoff: -1s is negative"
	if err == nil || err.Error() != want {
		t.Fatalf("got %q\nwant %q", err, want)
	}
	leaves := fielderr.Flatten(err)
	var fe *fielderr.Error
	if len(leaves) != 2 || !errors.As(leaves[0], &fe) || fe.Value != "0" {
		t.Fatalf("leaves %v", leaves)
	}
	if got := fielderr.Prefix("p", errors.New("plain")).Error(); got != "p: plain" {
		t.Fatalf("plain: %q", got)
	}
	if fielderr.Prefix("p", nil) != nil {
		t.Fatal("nil not kept")
	}
	if got := fielderr.New("jitter", "wobbly", "is not a jitter").Error(); got != `jitter: "wobbly" is not a jitter` {
		t.Fatalf("string value: %q", got)
	}
	if fielderr.Key("ml") != "ml" || fielderr.Key("") != `""` {
		t.Fatal("Key")
	}
}

func TestZeroOrWithin(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, ""},
		{1, ""},
		{100, ""},
		{0.5, "k: 0.5 is below 1"},
		{-1, "k: -1 is below 1"},
		{101, "k: 101 is above 100"},
		// A NaN (from Go; YAML refuses it earlier) was told both "is below 1" and "is above 100".
		{math.NaN(), "k: NaN is not a number"},
	} {
		var v fielderr.Checker
		fielderr.ZeroOrWithin(&v, "k", c.v, 1, 100)
		if got := errString(v.Err()); got != c.want {
			t.Errorf("ZeroOrWithin(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	var v fielderr.Checker
	fielderr.ZeroOrWithin(&v, "window", 2*time.Hour, time.Second, time.Hour)
	if got, want := errString(v.Err()), "window: 2h0m0s is above 1h0m0s"; got != want {
		t.Errorf("durations: %q, want %q (bounds spelt as configuration spells them)", got, want)
	}
}

func TestDurationRange(t *testing.T) {
	for _, c := range []struct {
		low, high time.Duration
		want      string
	}{
		{0, 0, ""},
		{time.Second, 0, ""},
		{0, time.Millisecond, ""},
		{time.Second, time.Second, ""},
		{time.Second, time.Millisecond, "max: 1ms is below min (1s)"},
		{-time.Second, -time.Millisecond, "min: -1s is negative\nmax: -1ms is negative"},
	} {
		var v fielderr.Checker
		v.DurationRange("min", c.low, "max", c.high)
		if got := errString(v.Err()); got != c.want {
			t.Errorf("DurationRange(%v, %v) = %q, want %q", c.low, c.high, got, c.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Distance never reads two names closer than their lengths allow, long ones included: a
// caller's "did you mean" threshold that grows with the name's length (a third of it, a
// quarter) must not pass a long name off as a typo of a short one. Before, any name longer
// than 64 bytes was at 99, which a third of a 297-byte name's length accepts.
func TestDistanceOfLongNames(t *testing.T) {
	for _, n := range []int{65, 300, 1000} {
		long := strings.Repeat("Z", n)
		if d := fielderr.Distance(long, "OK"); d < n-2 {
			t.Errorf("Distance(%d Zs, OK) = %d, want at least %d", n, d, n-2)
		}
		if d := fielderr.Distance("OK", long); d < n-2 {
			t.Errorf("Distance(OK, %d Zs) = %d, want at least %d", n, d, n-2)
		}
	}
	if d := fielderr.Distance("kyc.v1.OCRService", "kyc.v1.OCRServce"); d != 1 {
		t.Errorf("Distance of a one-letter typo = %d, want 1", d)
	}
}

// Key quotes a key with a dot, a space or a quote, and the empty key; Prefix of "" changes
// nothing, an Error with no path takes the prefix alone, and the Errors given are left as they are.
func TestKeyAndPrefixEdges(t *testing.T) {
	for k, want := range map[string]string{
		"ml": "ml", "": `""`, "a.b": `"a.b"`, "a b": `"a b"`, `a"b`: `"a\"b"`,
	} {
		if got := fielderr.Key(k); got != want {
			t.Errorf("Key(%q) = %s, want %s", k, got, want)
		}
	}
	orig := fielderr.New("max", 3, "is above 2")
	if got := fielderr.Prefix("", orig); got != error(orig) {
		t.Errorf("Prefix(\"\", err) = %v, want err itself", got)
	}
	if got := fielderr.Prefix("retry", fielderr.New("", -1, "is negative")).Error(); got != "retry: -1 is negative" {
		t.Errorf("Prefix of an Error with no path = %q, want %q", got, "retry: -1 is negative")
	}
	if got := fielderr.Prefix("retry", orig).Error(); got != "retry.max: 3 is above 2" {
		t.Errorf("Prefix = %q, want %q", got, "retry.max: 3 is above 2")
	}
	if orig.Path != "max" {
		t.Errorf("Prefix changed the Error given: its Path is %q, want %q", orig.Path, "max")
	}
}

// Distance is Levenshtein's, a substitution costing one, computed up to 64 bytes, and the
// longer length past that.
func TestDistance(t *testing.T) {
	a64 := strings.Repeat("a", 64)
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"a", "b", 1},
		{"ocr", "orc", 2}, {a64, a64, 0}, {a64, a64[1:] + "b", 1},
		{a64 + "a", a64 + "a", 65}, {"a", a64 + "a", 65},
	} {
		if got := fielderr.Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%d bytes %.8q…, %d bytes %.8q…) = %d, want %d", len(tt.a), tt.a, len(tt.b), tt.b, got, tt.want)
		}
	}
}
