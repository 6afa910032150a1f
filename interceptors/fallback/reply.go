package fallback

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Reply is what a Fallback answers with: Message or Func.
type Reply interface {
	reply(ctx context.Context, method string, req any, err error) proto.Message
}

// Message returns a Reply that always answers m as it is now: Message keeps a copy of m, so
// that changing m afterwards changes no reply (a suite builds its fallbacks from the Reply
// again on each reload). New checks the copy against the method's response type; a nil m, or
// a nil pointer of a message type, is refused.
func Message(m proto.Message) Reply { return fixedReply{m: proto.Clone(m)} }

// Func returns a Reply that asks f. f gets the call's context, full method, request (nil for
// streams) and error, and returns the reply, or nil (also a nil pointer of a message type) to
// let the error stand. It must be safe for
// concurrent use, must not keep the request, and should not log the request or the error: in a
// KYC pipeline they hold personal data.
//
// f runs in the caller's goroutine and the call returns when f does: the fallback does not
// bound it. f must honour ctx, returning (nil, or a reply) when ctx is done, and bound
// anything that may block (a look-up over the network) itself. ctx is the caller's, with the
// caller's deadline only: a deadline section's default and cap, and the budget, bound the call
// below the fallback, not f; a caller without a deadline gives f a ctx that never ends. (Bounding
// f would take a goroutine for every call it answers, as whether f returns promptly is known
// only when it does, and would leave a late f running after its call returned.)
func Func(f func(ctx context.Context, method string, req any, err error) proto.Message) Reply {
	return funcReply(f)
}

// CheckReply reports a Reply that New refuses whatever its target and configuration: a nil
// Reply, Func(nil), Message of a nil message (or of a nil pointer of a message type), Message
// of a message that lacks a proto2 required field (proto.CheckInitialized), and a Reply that
// Message and Func did not make. The rule: a Reply is a value that Message or Func
// returns; a type of the program's that embeds one (struct{ fallback.Reply }) is not, as New
// could not check what it answers. New refuses these (a nil Reply only without reply_json);
// CheckReply lets an option that takes a Reply refuse them when it is given.
func CheckReply(r Reply) error {
	switch r := r.(type) {
	case nil:
		return errors.New("a nil Reply answers nothing: give Message or Func")
	case funcReply:
		if r == nil {
			return errors.New("Func(nil) is not a reply")
		}
	case fixedReply:
		if r.m == nil || !r.m.ProtoReflect().IsValid() {
			return errors.New("Message(nil) is not a reply")
		}
		// A reply missing a proto2 required field cannot be marshaled: where it is sent on
		// (a proxy's reply), it would fail only when served.
		if err := proto.CheckInitialized(r.m); err != nil {
			return fmt.Errorf("Message of a %s lacks a required field: %w", r.m.ProtoReflect().Descriptor().FullName(), err)
		}
	default:
		return fmt.Errorf("a %T is not a Reply: a Reply is one that Message or Func returns, and a type that embeds one is not", r)
	}
	return nil
}

type fixedReply struct{ m proto.Message }

func (r fixedReply) reply(context.Context, string, any, error) proto.Message { return r.m }

type funcReply func(ctx context.Context, method string, req any, err error) proto.Message

func (f funcReply) reply(ctx context.Context, method string, req any, err error) proto.Message {
	return f(ctx, method, req, err)
}
