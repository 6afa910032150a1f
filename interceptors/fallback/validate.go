package fallback

import (
	"github.com/bulwarkrpc/bulwark/internal/codename"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	grpccodes "google.golang.org/grpc/codes"
)

// Validate reports every field of c that is out of range (see retry.Config.Validate).
// Whether ReplyJSON fits a method's response type is checked when the policy is built.
func (c Config) Validate() error {
	var v fielderr.Checker
	for i, cl := range c.OnClasses {
		v.Check(cl.Valid(), "on_classes["+itoa(i)+"]", cl, "is not a class")
	}
	for i, name := range c.OnCodes {
		_, ok := ParseCode(name)
		v.Check(ok, "on_codes["+itoa(i)+"]", name, codename.Rule(name))
	}
	return v.Err()
}

// ParseCode returns the gRPC code with the given canonical name (UNAVAILABLE, DEADLINE_EXCEEDED).
func ParseCode(name string) (grpccodes.Code, bool) { return codename.Parse(name) }

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
