package codes

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/url"
	"reflect"
	"strings"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// numCodes is the number of canonical gRPC codes (OK through Unauthenticated).
const numCodes = int(grpccodes.Unauthenticated) + 1

// defaultTable maps each canonical gRPC code to its class. The package documentation shows
// it as a table; keep the two in step.
var defaultTable = [numCodes]Class{
	grpccodes.OK:                 Success,
	grpccodes.Canceled:           Canceled,
	grpccodes.Unknown:            ServerFault,
	grpccodes.InvalidArgument:    Business,
	grpccodes.DeadlineExceeded:   Transient,
	grpccodes.NotFound:           Business,
	grpccodes.AlreadyExists:      Business,
	grpccodes.PermissionDenied:   Business,
	grpccodes.ResourceExhausted:  Throttled,
	grpccodes.FailedPrecondition: Business,
	grpccodes.Aborted:            Transient,
	grpccodes.OutOfRange:         Business,
	grpccodes.Unimplemented:      Business,
	grpccodes.Internal:           ServerFault,
	grpccodes.Unavailable:        Transient,
	grpccodes.DataLoss:           ServerFault,
	grpccodes.Unauthenticated:    Business,
}

// Verdict is the classification of one outcome.
type Verdict struct {
	// Class is what the outcome means.
	Class Class
	// Code is the gRPC code of the outcome (OK for a nil error).
	Code grpccodes.Code
	// Reason is the google.rpc.ErrorInfo reason, when the status carried one.
	Reason string
	// Pushback is what the server said about retrying, if anything.
	Pushback Pushback
}

// Retryable reports whether the outcome may be retried: its class is retryable and the server
// did not ask the client to stop.
func (v Verdict) Retryable() bool { return v.Class.Retryable() && !v.Pushback.Stop }

// Failure reports whether the outcome counts against the service's health.
func (v Verdict) Failure() bool { return v.Class.Failure() }

// Overrides change a classifier's answers. Reasons are matched against the google.rpc.ErrorInfo
// reason of a status and win over its code.
type Overrides struct {
	// Codes maps a gRPC code to the class it should get instead of the default. OK cannot
	// be overridden.
	Codes map[grpccodes.Code]Class `yaml:"codes"`
	// Reasons maps an ErrorInfo reason (such as DOCUMENT_UNREADABLE) to a class.
	Reasons map[string]Class `yaml:"reasons"`
}

// Classifier turns the outcome of a gRPC call into a Verdict. The zero value is not usable;
// start from Default. A Classifier is immutable and safe for concurrent use.
type Classifier struct {
	byCode  [numCodes]Class
	reasons map[string]Class
}

var defaultClassifier = &Classifier{byCode: defaultTable}

// Default returns the classifier with the table in the package documentation and no reason
// overrides.
func Default() *Classifier { return defaultClassifier }

// With returns a new classifier that answers as c does except where o says otherwise.
// c is not changed. Invalid classes in o, an unknown code and an override for OK (the code
// of every success) are reported as an error naming the entry.
func (c *Classifier) With(o Overrides) (*Classifier, error) {
	n := &Classifier{byCode: c.byCode}
	for code, cl := range o.Codes {
		if int(code) >= numCodes {
			return nil, errors.New("codes: override for unknown code " + code.String())
		}
		if code == grpccodes.OK {
			// Classify(nil) is always Success: a class for OK would hold for an OK status only.
			return nil, errors.New("codes: OK cannot be overridden: it is the code of every success")
		}
		if !cl.Valid() {
			return nil, errors.New("codes: override for " + code.String() + " has invalid class " + cl.String())
		}
		n.byCode[code] = cl
	}
	if len(c.reasons)+len(o.Reasons) > 0 {
		n.reasons = make(map[string]Class, len(c.reasons)+len(o.Reasons))
		for r, cl := range c.reasons {
			n.reasons[r] = cl
		}
		for r, cl := range o.Reasons {
			if r == "" {
				return nil, errors.New("codes: reason override with an empty reason")
			}
			if !cl.Valid() {
				return nil, errors.New("codes: override for reason " + r + " has invalid class " + cl.String())
			}
			n.reasons[r] = cl
		}
	}
	return n, nil
}

// Equal reports whether c and o answer alike: the same class for every code and reason.
func (c *Classifier) Equal(o *Classifier) bool {
	if c == o {
		return true
	}
	if c == nil || o == nil {
		return false
	}
	return c.byCode == o.byCode && maps.Equal(c.reasons, o.reasons)
}

// ClassOf returns the class c gives to a bare status code.
func (c *Classifier) ClassOf(code grpccodes.Code) Class {
	if int(code) < numCodes {
		return c.byCode[code]
	}
	return ServerFault
}

// Classify classifies the error a gRPC call returned (nil for success).
//
// A status error is classified by its ErrorInfo reason when the classifier has an override for
// it, else by its code; its RetryInfo is read as pushback. A bulwark Rejection is Rejected. An
// error that wraps or joins a status is classified by the status, whatever is beside it.
// Errors that are not statuses are classified by what they are: context.Canceled is Canceled,
// context.DeadlineExceeded is Transient (the retry policy decides whose deadline it was),
// io.EOF, io.ErrUnexpectedEOF, connection errors and network timeouts are Transient with code
// Unavailable, and anything else is a ServerFault with code Unknown. A nil pointer held in an
// error (a typed nil *url.Error: its producer's bug) is an error of unknown kind, ServerFault
// with code Unknown, and is not unwrapped; a nil *Rejection is an unnamed rejection. Classify
// itself never panics, a nil err included (Success); it calls err's own GRPCStatus, Unwrap, Is
// and As methods, and does not recover a panic of theirs.
//
// Classifying a status without details allocates nothing.
func (c *Classifier) Classify(err error) Verdict {
	if err == nil {
		return Verdict{Class: Success, Code: grpccodes.OK}
	}
	// Direct type assertions first: they cost nothing, where errors.As allocates. Wrapped
	// errors are handled by classifySlow.
	if r, ok := err.(*Rejection); ok { //nolint:errorlint // fast path; classifySlow unwraps
		return rejected(r)
	}
	if gs, ok := err.(interface{ GRPCStatus() *status.Status }); ok && !nilRef(err) {
		if st := gs.GRPCStatus(); st != nil {
			return c.classifyStatus(st)
		}
	}
	return c.classifySlow(err)
}

// ClassifyTrailer classifies err as Classify does and also reads the grpc-retry-pushback-ms
// trailer. When both the trailer and a RetryInfo detail give pushback, a request to stop wins,
// then the longer delay.
func (c *Classifier) ClassifyTrailer(err error, trailer metadata.MD) Verdict {
	v := c.Classify(err)
	if len(trailer) > 0 {
		v.Pushback = v.Pushback.merge(ParsePushback(trailer))
	}
	return v
}

// ClassifyStatus classifies a status.
func (c *Classifier) ClassifyStatus(st *status.Status) Verdict {
	if st == nil {
		return Verdict{Class: Success, Code: grpccodes.OK}
	}
	return c.classifyStatus(st)
}

func (c *Classifier) classifyStatus(st *status.Status) Verdict {
	code := st.Code()
	v := Verdict{Class: c.ClassOf(code), Code: code}
	switch code {
	case grpccodes.OK:
		return v
	case grpccodes.ResourceExhausted:
		if overSizeLimit(st.Message()) {
			v.Class = Business
		}
	}
	// Details unmarshals each google.protobuf.Any; with no details it allocates nothing.
	own := false          // bulwark's own ErrorInfo seen: it decides the reason and the class
	var anys []*anypb.Any // st's details as sent, read only once one does not unmarshal
	for i, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if own {
				continue
			}
			v.Reason = d.GetReason()
			if d.GetDomain() == Domain {
				v.Class, own = Rejected, true
			} else if cl, ok := c.reasons[v.Reason]; ok {
				v.Class = cl
			}
		case *errdetails.RetryInfo:
			v.Pushback = v.Pushback.merge(retryInfoPushback(d))
		case error:
			// A detail that does not unmarshal. A RetryInfo the server sent that cannot be
			// read is read as a request to stop, as an unparseable trailer is (gRFC A6) and
			// an invalid delay is; a detail of another type says nothing about retrying.
			if anys == nil {
				anys = st.Proto().GetDetails()
			}
			if i < len(anys) && anys[i].MessageName() == retryInfoName {
				v.Pushback = Pushback{Stop: true}
			}
		}
	}
	return v
}

// retryInfoName is the full name of google.rpc.RetryInfo, as a detail's type URL ends.
var retryInfoName = (*errdetails.RetryInfo)(nil).ProtoReflect().Descriptor().FullName()

// overSizeLimit reports whether msg, a ResourceExhausted status's message, is a gRPC
// library's for a message over a size limit: the receiver's (grpc-go on either side, gRPC's C
// core as Python and C++ servers use it, grpc-java) or the sender's own (grpc-go's, and its
// frame's: a message over 4 GiB, which no length prefix can hold). The same
// message fails again, and the peer is not overloaded: no retry, no failure. A server's quota
// or rate refusal does not say so.
func overSizeLimit(msg string) bool {
	return strings.Contains(msg, "essage larger than max") || // grpc-go received/send, C core
		strings.Contains(msg, "decompression larger than max") || // grpc-go, decompressed
		strings.Contains(msg, "grpc: message too large (") || // grpc-go, sent over 4 GiB
		strings.Contains(msg, "message exceeds maximum size") // grpc-java
}

func retryInfoPushback(ri *errdetails.RetryInfo) Pushback {
	rd := ri.GetRetryDelay()
	if rd == nil {
		return Pushback{}
	}
	if err := rd.CheckValid(); err != nil {
		return Pushback{Stop: true}
	}
	d := rd.AsDuration()
	if d < 0 {
		return Pushback{Stop: true}
	}
	return Pushback{Delay: min(d, maxPushback), Set: true}
}

// rejected is the verdict of rejection r; a nil r (held in an error: a policy's bug) is an
// unnamed rejection, Unavailable.
func rejected(r *Rejection) Verdict {
	if r == nil {
		return Verdict{Class: Rejected, Code: grpccodes.Unavailable}
	}
	v := Verdict{Class: Rejected, Code: r.Code, Reason: r.Reason}
	if v.Code == grpccodes.OK {
		v.Code = grpccodes.Unavailable
	}
	if r.RetryAfter > 0 {
		// Capped as a server's pushback is, so that the verdict is the same in process and
		// after the rejection's RetryInfo crossed a process boundary.
		v.Pushback = Pushback{Delay: min(r.RetryAfter, maxPushback), Set: true}
	}
	return v
}

func (c *Classifier) classifySlow(err error) Verdict {
	var r *Rejection
	if walk(err, func(e error, isNil bool) bool { return asNode(e, isNil, &r) }) {
		return rejected(r)
	}
	// A status anywhere in err wins over the context's and the connection's sentinels beside
	// it, as a Rejection does and as status.Code(err) reads it: a relayed rejection or a
	// server's answer joined with the caller's cancel is classified as it is alone. The first
	// status error found decides; one whose GRPCStatus is nil holds no status, as
	// status.FromError reads it. A nil pointer held in an error (a typed nil) holds none: its
	// GRPCStatus, which would dereference it, is not called.
	var st *status.Status
	if walk(err, func(e error, isNil bool) bool {
		var gs interface{ GRPCStatus() *status.Status }
		if isNil || !asNode(e, false, &gs) {
			return false
		}
		st = gs.GRPCStatus()
		return true
	}) && st != nil {
		return c.classifyStatus(st)
	}
	switch {
	case is(err, context.Canceled):
		return Verdict{Class: Canceled, Code: grpccodes.Canceled}
	case is(err, context.DeadlineExceeded):
		return Verdict{Class: c.ClassOf(grpccodes.DeadlineExceeded), Code: grpccodes.DeadlineExceeded}
	}
	if walk(err, isConnectionError) {
		return Verdict{Class: c.ClassOf(grpccodes.Unavailable), Code: grpccodes.Unavailable}
	}
	return Verdict{Class: c.ClassOf(grpccodes.Unknown), Code: grpccodes.Unknown}
}

// walk calls visit on err and on each error it wraps or joins, depth first in the order
// errors.Is and errors.As take them, until visit returns true, and reports whether it did.
// A nil pointer held in an error (a typed nil *url.Error: its producer's bug) is visited with
// isNil set and not unwrapped: its Unwrap would dereference it, and it holds nothing.
func walk(err error, visit func(e error, isNil bool) bool) bool {
	for err != nil {
		isNil := nilRef(err)
		if visit(err, isNil) {
			return true
		}
		if isNil {
			return false
		}
		switch x := err.(type) { //nolint:errorlint // walk is the unwrapping
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if walk(e, visit) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// nilRef reports whether err holds a nil pointer (or another nil reference), whose methods
// may dereference it.
func nilRef(err error) bool {
	v := reflect.ValueOf(err)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// asNode is one step of errors.As: it reports whether e itself (not what it wraps) is a T, or
// says so through an As method, and sets *target. A nil e's methods are not called.
func asNode[T any](e error, isNil bool, target *T) bool {
	if t, ok := e.(T); ok {
		*target = t
		return true
	}
	if isNil {
		return false
	}
	x, ok := e.(interface{ As(any) bool })
	return ok && x.As(target)
}

// isNode is one step of errors.Is: it reports whether e itself is target, or says so through
// an Is method. A nil e's methods are not called.
func isNode(e error, isNil bool, target error) bool {
	if e == target {
		return true
	}
	if isNil {
		return false
	}
	x, ok := e.(interface{ Is(error) bool })
	return ok && x.Is(target)
}

// is is errors.Is over walk: a nil pointer in err is not unwrapped.
func is(err, target error) bool {
	return walk(err, func(e error, isNil bool) bool { return isNode(e, isNil, target) })
}

// isConnectionError reports whether e itself (walk visits what it wraps) is a connection's
// error. Every error in a join is looked at: a network error beside another error (a
// *url.Error that wraps none) decides, as a status beside a sentinel does.
func isConnectionError(e error, isNil bool) bool {
	if isNil {
		// A nil *net.OpError says nothing of a connection: an error of unknown kind.
		return false
	}
	if isNode(e, false, io.EOF) || isNode(e, false, io.ErrUnexpectedEOF) || isNode(e, false, net.ErrClosed) {
		return true
	}
	for _, errno := range connErrnos {
		if isNode(e, false, errno) {
			return true
		}
	}
	var ne net.Error
	if !asNode(e, false, &ne) {
		return false
	}
	switch ne.(type) {
	case syscall.Errno:
		// A syscall.Errno has net.Error's methods whatever call failed (a file's open or
		// write too): one that is not a connection's, above, is no network error.
		return false
	case *url.Error:
		// A *url.Error has net.Error's methods whatever it wraps (a refused scheme, a
		// file's error, a plain error): it is a network error when what it wraps is, which
		// walk visits next.
		return false
	}
	return true
}

// connErrnos are the errnos of a connection that failed, was refused or could not be made.
var connErrnos = [...]syscall.Errno{
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED,
	syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ETIMEDOUT,
}

// Delay returns the pushback delay in v, or zero.
func (v Verdict) Delay() time.Duration {
	if v.Pushback.Set {
		return v.Pushback.Delay
	}
	return 0
}
