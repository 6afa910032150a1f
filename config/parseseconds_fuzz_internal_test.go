package config

import (
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

// secondsRE is the format parseSeconds documents: whole seconds and at most nine decimals,
// either part may be empty but not both, and an "s" suffix; one sign at most, "-" before
// either part, "+" before whole seconds (checked apart); no exponent.
var secondsRE = regexp.MustCompile(`^([-+]?)([0-9]*)(?:\.([0-9]{0,9}))?s$`)

// FuzzParseSeconds checks parseSeconds against its documented format, computed independently
// with big integers: it accepts exactly that format with at most maxProtoSeconds whole seconds,
// gives the exact value, and the longest (most negative) time.Duration past what one holds.
func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"1s", ".5s", "1.s", "s", ".s", "0.000000001s", "0.0000000001s", "+1s", "-1s", "1e3s",
		"315576000000s", "315576000001s", "9223372036.854775807s", "9223372036.854775808s", "00000000000000000000001s", "1.5", "1..5s",
		"-.5s", "+.5s", "+s", "-s", "--1s", "-+1s", "1.+5s", "-9223372036.854775808s", "-9223372036.854775809s", "-315576000000s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseSeconds(s)
		m := secondsRE.FindStringSubmatch(s)
		want := m != nil && m[2]+m[3] != "" && (m[1] != "+" || m[2] != "")
		var wantD time.Duration
		if want {
			whole, _ := new(big.Int).SetString("0"+m[2], 10)
			if whole.Cmp(big.NewInt(maxProtoSeconds)) > 0 {
				want = false
			} else {
				frac, _ := new(big.Int).SetString("0"+m[3]+strings.Repeat("0", 9-len(m[3])), 10)
				ns := new(big.Int).Add(new(big.Int).Mul(whole, big.NewInt(1e9)), frac)
				if m[1] == "-" {
					ns.Neg(ns)
				}
				switch {
				case ns.IsInt64():
					wantD = time.Duration(ns.Int64())
				case ns.Sign() < 0:
					wantD = math.MinInt64
				default:
					wantD = math.MaxInt64
				}
			}
		}
		if ok != want || d != wantD {
			t.Fatalf("parseSeconds(%q) = %v, %v; want %v, %v", s, d, ok, wantD, want)
		}
	})
}
