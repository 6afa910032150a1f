package fallback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// DefaultClasses are the classes replaced when Config.OnClasses and Config.OnCodes are empty.
var DefaultClasses = []codes.Class{codes.Transient, codes.Throttled, codes.ServerFault, codes.Rejected}

// Fallback answers failed calls of one method or service with a degraded reply. It is safe for
// concurrent use.
type Fallback struct {
	target     string // full method, or service when !isMethod
	isMethod   bool
	service    string // the service whose every method it covers: a service target, or "/<service>/*"
	anyMethod  bool   // the target is "/<service>/*"
	reply      Reply
	classes    uint32 // bit per codes.Class
	codes      uint32 // bit per gRPC code
	classifier *codes.Classifier
	clock      clock.Clock
	sink       observe.Sink
	served     atomic.Uint64
}

// New returns the fallback named name, the calls it answers: a full method
// ("/kyc.v1.OCRService/Extract") or, with a Func reply, a service ("kyc.v1.OCRService"). A full
// method whose method is "*" ("/kyc.v1.OCRService/*", which names no method) answers every
// method of its service, as a service does, with a reply checked as for a method missing from
// the registry (the chain a suite builds for a service's methods past its bound on unlisted names).
// reply may be nil when cfg.ReplyJSON is set; a
// reply given wins over cfg.ReplyJSON. See the package documentation for the checks New makes;
// a clock or an observer given that holds a nil pointer (a typed nil) is an error too.
func New(name string, cfg Config, reply Reply, opts ...Option) (*Fallback, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := optkit.Build(opts, func(o Option) optkit.Option { return o.o })
	if err := o.CheckTypedNil(); err != nil {
		return nil, err
	}
	f := &Fallback{target: name, classifier: o.Classifier, clock: o.Clock, sink: o.Sink}
	if err := f.setTarget(name); err != nil {
		return nil, err
	}
	if err := f.setReply(cfg.ReplyJSON, reply); err != nil {
		return nil, err
	}
	classes := cfg.OnClasses
	if len(classes) == 0 && len(cfg.OnCodes) == 0 {
		classes = DefaultClasses
	}
	for _, c := range classes {
		f.classes |= 1 << c
	}
	for _, name := range cfg.OnCodes {
		c, _ := ParseCode(name) // Validate checked it
		f.codes |= 1 << c
	}
	return f, nil
}

func (f *Fallback) setTarget(target string) error {
	if strings.HasPrefix(target, "/") {
		svc, m := grpcmethod.Split(target)
		if svc == "" || m == "" {
			return fmt.Errorf("fallback: %q is not a full method name (/package.Service/Method)", target)
		}
		f.isMethod = true
		if m == "*" {
			f.anyMethod, f.service = true, svc
		}
		return nil
	}
	if target == "" || strings.Contains(target, "/") {
		return fmt.Errorf("fallback: %q is neither a full method (/package.Service/Method) nor a service (package.Service)", target)
	}
	f.service = target
	return nil
}

// responseType returns the descriptor of the target method's response message.
func (f *Fallback) responseType() (protoreflect.MessageDescriptor, error) {
	svc, m := grpcmethod.Split(f.target)
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("fallback: method %s is unknown: service %s is not in the protobuf registry", f.target, svc)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("fallback: method %s is unknown: %s is not a service", f.target, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(m))
	if md == nil {
		return nil, fmt.Errorf("fallback: method %s is unknown: service %s has no method %s", f.target, svc, m)
	}
	return md.Output(), nil
}

func (f *Fallback) setReply(replyJSON string, reply Reply) error {
	// One rule with the options that take a Reply (CheckReply).
	if reply != nil {
		if err := CheckReply(reply); err != nil {
			return fmt.Errorf("fallback: %s: %w", f.target, err)
		}
	}
	switch r := reply.(type) {
	case funcReply:
		f.reply = r
		return nil
	case fixedReply:
		if !f.isMethod {
			return fmt.Errorf("fallback: %s: a fixed reply needs a full method, not a service", f.target)
		}
		got := r.m.ProtoReflect().Descriptor()
		// A method missing from the registry is checked at call time instead.
		if want, err := f.responseType(); err == nil && want != got {
			return fmt.Errorf("fallback: reply for %s is a %s, the method answers %s", f.target, got.FullName(), want.FullName())
		}
		f.reply = fixedReply{m: proto.Clone(r.m)}
		return nil
	}
	if replyJSON == "" {
		return fmt.Errorf("fallback: %s: no reply: give Message, Func or reply_json", f.target)
	}
	if !f.isMethod {
		return fmt.Errorf("fallback: %s: reply_json needs a full method, not a service", f.target)
	}
	// The errors of reply_json name the field (a suite names its path in the configuration:
	// see config.Config.LocateSectionError), the value and the rule.
	md, err := f.responseType()
	if err != nil {
		return replyJSONErr(replyJSON, "cannot be decoded: "+strings.TrimPrefix(err.Error(), "fallback: "))
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		return replyJSONErr(replyJSON, "cannot be decoded for "+f.target+": its response type "+string(md.FullName())+" is not in the protobuf registry")
	}
	m := mt.New().Interface()
	if err := protojson.Unmarshal([]byte(replyJSON), m); err != nil {
		return replyJSONErr(replyJSON, "does not fit "+string(md.FullName())+", the response type of "+f.target+": "+err.Error())
	}
	f.reply = fixedReply{m: m}
	return nil
}

// replyJSONErr is the error of a reply_json value that cannot be the reply, by rule:
// "fallback: reply_json: <value> <rule>".
func replyJSONErr(replyJSON, rule string) error {
	v := replyJSON
	var b bytes.Buffer
	if strings.ContainsAny(v, "\n\r") && json.Compact(&b, []byte(v)) == nil {
		v = b.String() // a YAML block scalar, on one line (quoting escapes what is not JSON)
	}
	return fmt.Errorf("fallback: %w", fielderr.New("reply_json", v, rule))
}

// Target returns the full method or service the fallback covers.
func (f *Fallback) Target() string { return f.target }

// Served returns how many replies the fallback has served.
func (f *Fallback) Served() uint64 { return f.served.Load() }

// Covers reports whether the fallback applies to calls of the full method.
func (f *Fallback) Covers(method string) bool {
	if f.isMethod && !f.anyMethod {
		return method == f.target
	}
	return grpcmethod.Service(method) == f.service
}

// Replaces reports whether the fallback answers in place of err (nil never is), judging by
// err alone: a call whose caller canceled its context is judged as canceled whatever its
// error (see the package documentation).
func (f *Fallback) Replaces(err error) bool {
	if err == nil {
		return false
	}
	return f.chosen(f.classifier.Classify(err))
}

// verdict classifies err, the error of a call made with ctx. A call whose caller canceled ctx
// ended for that reason, whatever error the policies below it returned (a retry policy cut
// short in its backoff sleep returns its last attempt's, Unavailable say): its verdict is
// Canceled.
func (f *Fallback) verdict(ctx context.Context, err error) codes.Verdict {
	v := f.classifier.Classify(err)
	if v.Class != codes.Canceled && ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		return codes.Verdict{Class: codes.Canceled, Code: grpccodes.Canceled}
	}
	return v
}

func (f *Fallback) chosen(v codes.Verdict) bool {
	return f.classes&(1<<v.Class) != 0 || (v.Code < 32 && f.codes&(1<<v.Code) != 0)
}

// Recover is the policy without gRPC: given the error of a call of method (with its request and
// the caller's reply message), it fills reply with the fallback and returns nil, or returns err
// when the error is not one to replace, the method is not covered or the reply declines; a
// reply of the wrong type gives a *ReplyTypeError, a Func's reply lacking a required field an
// *IncompleteReplyError. A nil ctx is taken as context.Background(): a call not canceled,
// with no call sink (observe.WithCallSink), and the context a Func gets, which it may read.
func (f *Fallback) Recover(ctx context.Context, method string, req, reply any, err error) error {
	if err == nil || !f.Covers(method) {
		return err
	}
	return f.recover(ctx, method, req, reply, err)
}

func (f *Fallback) recover(ctx context.Context, method string, req, reply any, err error) error {
	if ctx == nil { // Recover's: see there
		ctx = context.Background()
	}
	v := f.verdict(ctx, err)
	if !f.chosen(v) {
		return err
	}
	m := f.reply.reply(ctx, method, req, err)
	// A nil pointer of a message type (a Func's "var r *T; return r") declines as nil does.
	if m == nil || !m.ProtoReflect().IsValid() {
		return err
	}
	src := m.ProtoReflect()
	dst, ok := reply.(proto.Message)
	if !ok || dst == nil || !dst.ProtoReflect().IsValid() {
		return &ReplyTypeError{Method: method, Want: "(not a settable proto message)", Got: src.Descriptor().FullName(), Err: err}
	}
	dm := dst.ProtoReflect()
	if dm.Descriptor() != src.Descriptor() {
		return &ReplyTypeError{Method: method, Want: dm.Descriptor().FullName(), Got: src.Descriptor().FullName(), Err: err}
	}
	// A Func's reply lacking a proto2 required field cannot be marshaled: not served, as one
	// of the wrong type is not. (New and CheckReply refuse such a Message.)
	if _, isFunc := f.reply.(funcReply); isFunc {
		if missing := proto.CheckInitialized(m); missing != nil {
			return &IncompleteReplyError{Method: method, Type: src.Descriptor().FullName(), Missing: missing, Err: err}
		}
	}
	proto.Reset(dst)
	proto.Merge(dst, m)
	f.served.Add(1)
	// The call's own event: to the call's sink too (observe.WithCallSink), so that a tracer
	// tells a call a fallback answered from one that succeeded; through Multi, so that the
	// call's sink has it even when the policy's observer panics.
	if sink := observe.Multi(f.sink, observe.CallSinkFrom(ctx)); sink != nil {
		sink.Observe(observe.Event{
			Kind:    observe.FallbackServed,
			Time:    f.clock.Now(),
			Service: grpcmethod.Service(method),
			Method:  method,
			Policy:  observe.PolicyFallback,
			Code:    v.Code,
			Class:   v.Class,
			Reason:  v.Reason,
		})
	}
	return nil
}
