package fielderr_test

import (
	"errors"
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
