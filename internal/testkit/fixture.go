package testkit

import (
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The services of Fixture, registered in protoregistry.GlobalFiles by its first call. Their
// methods are client-streaming, so that a service config built from the registered unary
// methods (interceptors.Suite.ServiceConfigOption) is the same with the fixture or without it.
const (
	// FixtureMixed declares Open and Peek, which answer a Ticket, and Rate, which answers a Score.
	FixtureMixed = "testkit.fixture.v1.Mixed"
	// FixtureSame declares Open and Peek, which both answer a Ticket.
	FixtureSame = "testkit.fixture.v1.Same"
)

var fixture = sync.OnceValue(func() protoreflect.FileDescriptor {
	const path = "bulwark/internal/testkit/fixture.proto"
	if fd, err := protoregistry.GlobalFiles.FindFileByPath(path); err == nil {
		return fd
	}
	field := func(name string, n int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: label.Enum(), Type: typ.Enum()}
	}
	method := func(name, in, out string) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".testkit.fixture.v1." + in),
			OutputType: proto.String(".testkit.fixture.v1." + out), ClientStreaming: proto.Bool(true)}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String(path),
		Package: proto.String("testkit.fixture.v1"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Ticket"), Field: []*descriptorpb.FieldDescriptorProto{
				field("id", 1, descriptorpb.FieldDescriptorProto_LABEL_REQUIRED, descriptorpb.FieldDescriptorProto_TYPE_STRING),
				field("note", 2, descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_TYPE_STRING),
			}},
			{Name: proto.String("Score"), Field: []*descriptorpb.FieldDescriptorProto{
				field("value", 1, descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE),
			}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{
			{Name: proto.String("Mixed"), Method: []*descriptorpb.MethodDescriptorProto{
				method("Open", "Ticket", "Ticket"), method("Rate", "Ticket", "Score"), method("Peek", "Ticket", "Ticket")}},
			{Name: proto.String("Same"), Method: []*descriptorpb.MethodDescriptorProto{
				method("Open", "Score", "Ticket"), method("Peek", "Score", "Ticket")}},
		},
	}, protoregistry.GlobalFiles)
	if err != nil {
		panic("testkit: fixture: " + err.Error())
	}
	if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
		panic("testkit: fixture: " + err.Error())
	}
	return fd
})

// FixtureTicket returns a new testkit.fixture.v1.Ticket, a proto2 message whose field id is
// required, with id set when id is not empty. It registers the fixture's file first.
func FixtureTicket(id string) proto.Message {
	m := dynamicpb.NewMessage(fixture().Messages().ByName("Ticket"))
	if id != "" {
		m.Set(m.Descriptor().Fields().ByName("id"), protoreflect.ValueOfString(id))
	}
	return m
}

// FixtureScore returns a new testkit.fixture.v1.Score with value set. It registers the
// fixture's file first.
func FixtureScore(value float64) proto.Message {
	m := dynamicpb.NewMessage(fixture().Messages().ByName("Score"))
	m.Set(m.Descriptor().Fields().ByName("value"), protoreflect.ValueOfFloat64(value))
	return m
}
