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

// ErrReplyIncomplete is wrapped by an IncompleteReplyError.
var ErrReplyIncomplete = errors.New("fallback reply lacks a required field")

// IncompleteReplyError is returned when a Func's reply lacks a proto2 required field (see
// proto.CheckInitialized): such a reply cannot be marshaled, so it is not served. It wraps
// ErrReplyIncomplete and the call's original error: status.Code(err) is the original code.
type IncompleteReplyError struct {
	// Method is the full method of the call.
	Method string
	// Type is the type of the fallback's reply.
	Type protoreflect.FullName
	// Missing is protobuf's error naming the field missing.
	Missing error
	// Err is the call's original error.
	Err error
}

func (e *IncompleteReplyError) Error() string {
	msg := "fallback: reply for " + e.Method + " is a " + string(e.Type) + " that lacks a required field"
	if e.Missing != nil {
		msg += " (" + e.Missing.Error() + ")"
	}
	msg += "; not served"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrReplyIncomplete and the original error.
func (e *IncompleteReplyError) Unwrap() []error { return []error{ErrReplyIncomplete, e.Err} }
