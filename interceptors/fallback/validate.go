package fallback

import (
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/codename"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	grpccodes "google.golang.org/grpc/codes"
)

// Validate reports every field of c that is out of range (see retry.Config.Validate).
// Whether ReplyJSON fits a method's response type is checked when the policy is built.
func (c Config) Validate() error {
	var v fielderr.Checker
	// A success is never replaced: a fallback on it would answer nothing, and, naming a class
	// or a code, would leave the default classes out too.
	for i, cl := range c.OnClasses {
		v.Check(cl.Valid(), "on_classes["+itoa(i)+"]", cl, "is not a class")
		v.Check(cl != codes.Success, "on_classes["+itoa(i)+"]", cl, "is the class of a success: a fallback answers failures only")
	}
	for i, name := range c.OnCodes {
		code, ok := ParseCode(name)
		v.Check(ok, "on_codes["+itoa(i)+"]", name, codename.Rule(name))
		v.Check(!ok || code != grpccodes.OK, "on_codes["+itoa(i)+"]", name, "is the code of a success: a fallback answers failures only")
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
