// Package grpcmethod reads what a full gRPC method name ("/pkg.Service/Method") tells:
// its service, its short name and, from the registered descriptor, its idempotency level.
package grpcmethod

import (
	"strings"
	"sync"

	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// MaxKeptName is the longest name bulwark keeps past a call: observe.MaxKeptName, where the
// observers, modules of their own, read it too.
const MaxKeptName = observe.MaxKeptName

// Keepable reports whether name is short enough to be kept (MaxKeptName).
func Keepable(name string) bool { return len(name) <= MaxKeptName }

// Split returns the service ("pkg.Service") and method ("Method") of a full method name: what
// comes before and after its last '/', once a leading '/' is left out. A name with nothing
// before that '/' (or no '/') gives an empty service and the name without its leading '/' as
// the method ("/Extract": "", "Extract"). It does not allocate.
func Split(fullMethod string) (service, method string) {
	name := strings.TrimPrefix(fullMethod, "/")
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

// Service returns the service part of a full method name.
func Service(fullMethod string) string {
	s, _ := Split(fullMethod)
	return s
}

// Owner returns the service and method a policy object named name stands for, as its
// rejections, events and levels name them: a full method "/pkg.Service/Method" is that method
// of its service (the object of one method, as a suite names it); any other name is a service,
// or stands for one, with no method. service, when set (a WithService option), is the service
// either way.
func Owner(name, service string) (string, string) {
	var method string
	if strings.HasPrefix(name, "/") {
		if svc, _ := Split(name); svc != "" {
			method = name
			if service == "" {
				service = svc
			}
		}
	}
	if service == "" {
		service = name
	}
	return service, method
}

// Idempotency is a method's idempotency level as its descriptor declares it.
type Idempotency = descriptorpb.MethodOptions_IdempotencyLevel

// Levels, re-exported for readability.
const (
	Unknown      = descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN
	NoSideEffect = descriptorpb.MethodOptions_NO_SIDE_EFFECTS
	Idempotent   = descriptorpb.MethodOptions_IDEMPOTENT
)

var cache sync.Map // full method of a registered method → Idempotency

// IdempotencyOf returns the idempotency level declared by the method's descriptor in the global
// protobuf registry, or Unknown when the method is not registered. The levels of registered
// methods are cached; a name that is not registered is looked up again each time, so that
// callers with unbounded method names (a proxy) grow no memory here.
func IdempotencyOf(fullMethod string) Idempotency {
	if v, ok := cache.Load(fullMethod); ok {
		return v.(Idempotency)
	}
	lvl, found := lookup(fullMethod)
	if found {
		cache.Store(fullMethod, lvl)
	}
	return lvl
}

// SafeToRetry reports whether the descriptor says the method is NO_SIDE_EFFECTS or IDEMPOTENT.
func SafeToRetry(fullMethod string) bool {
	lvl := IdempotencyOf(fullMethod)
	return lvl == NoSideEffect || lvl == Idempotent
}

// lookup returns the level the descriptor of fullMethod declares, and whether the method is
// registered.
func lookup(fullMethod string) (Idempotency, bool) {
	svc, m := Split(fullMethod)
	if svc == "" {
		return Unknown, false
	}
	sd := ServiceDescriptor(svc)
	if sd == nil {
		return Unknown, false
	}
	md := sd.Methods().ByName(protoreflect.Name(m))
	if md == nil {
		return Unknown, false
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return Unknown, true
	}
	return opts.GetIdempotencyLevel(), true
}

// ServiceDescriptor returns the descriptor of the service named service ("pkg.Service") in the
// global protobuf registry, or nil. It costs time in proportion to the name's length, whatever
// the name: protoregistry.GlobalFiles.FindDescriptorByName tries every parent of a name it does
// not know (a.b.c, a.b, a), a cost quadratic in the length of a name with many dots, which a
// caller forwarding method names it was sent (a proxy) would pay on every unknown one. A
// service is declared at the top level of a file of its package: the files of that package are
// looked up once, and the service by its short name in each.
func ServiceDescriptor(service string) protoreflect.ServiceDescriptor {
	name := protoreflect.FullName(service)
	var sd protoreflect.ServiceDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage(name.Parent(), func(fd protoreflect.FileDescriptor) bool {
		sd = fd.Services().ByName(name.Name())
		return sd == nil
	})
	return sd
}
