package fallback

import (
	"errors"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrReplyType is wrapped by a ReplyTypeError.
var ErrReplyType = errors.New("fallback reply type does not match the call's reply")

// ReplyTypeError is returned when a Func's reply is not of the caller's reply type. It wraps
// ErrReplyType and the call's original error: status.Code(err) is the original code.
type ReplyTypeError struct {
	// Method is the full method of the call.
	Method string
	// Want is the type of the caller's reply; Got the type of the fallback's.
	Want, Got protoreflect.FullName
	// Err is the call's original error.
	Err error
}

func (e *ReplyTypeError) Error() string {
	msg := "fallback: reply for " + e.Method + " is a " + string(e.Got) + ", the call wants a " + string(e.Want) + "; not served"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrReplyType and the original error.
func (e *ReplyTypeError) Unwrap() []error { return []error{ErrReplyType, e.Err} }
