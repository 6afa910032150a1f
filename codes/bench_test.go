package codes_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var sinkVerdict codes.Verdict

func BenchmarkClassify(b *testing.B) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	rej := &codes.Rejection{Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "s", RetryAfter: time.Second}
	trailer := metadata.Pairs(codes.PushbackKey, "250")
	cases := []struct {
		name string
		run  func() codes.Verdict
	}{
		{"nil", func() codes.Verdict { return codes.Default().Classify(nil) }},
		{"status", func() codes.Verdict { return codes.Default().Classify(unavailable) }},
		{"rejection", func() codes.Verdict { return codes.Default().Classify(rej) }},
		{"status+trailer", func() codes.Verdict { return codes.Default().ClassifyTrailer(unavailable, trailer) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkVerdict = c.run()
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var v codes.Verdict
				for pb.Next() {
					v = c.run()
				}
				_ = v
			})
		})
	}
}

func TestClassifyAllocations(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	trailer := metadata.Pairs(codes.PushbackKey, "250")
	tooLarge := status.Error(grpccodes.ResourceExhausted, "grpc: received message larger than max (5000000 vs. 4194304)")
	c := codes.Default()
	for name, f := range map[string]func(){
		"nil":               func() { sinkVerdict = c.Classify(nil) },
		"plain status":      func() { sinkVerdict = c.Classify(unavailable) },
		"status+trailer":    func() { sinkVerdict = c.ClassifyTrailer(unavailable, trailer) },
		"over a size limit": func() { sinkVerdict = c.Classify(tooLarge) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per classification, want 0", name, n)
		}
	}
}
