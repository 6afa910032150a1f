package benchmarks

import (
	"context"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// callerDeadline hands out a context with a 10 s deadline, renewed every 500 calls so that a
// slow (profiled) run never reaches it; its own cost, about 4 allocations per 500 calls, is
// noise in any chain's figure.
type callerDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
	n      int
}

func (d *callerDeadline) next() context.Context {
	if d.n%500 == 0 {
		if d.cancel != nil {
			d.cancel()
		}
		d.ctx, d.cancel = context.WithTimeout(context.Background(), 10*time.Second)
	}
	d.n++
	return d.ctx
}

func (d *callerDeadline) stop() {
	if d.cancel != nil {
		d.cancel()
	}
}

// BenchmarkUnaryDL is BenchmarkUnary's serial mode with a 10 s caller deadline on every call,
// the case issue 20 measures.
func BenchmarkUnaryDL(b *testing.B) {
	chains, conns := dialChains(b)
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for i, c := range chains {
		client := kycv1.NewFaceMatchServiceClient(conns[i])
		b.Run("chain="+c.Name, func(b *testing.B) {
			var dl callerDeadline
			defer dl.stop()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Compare(dl.next(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
