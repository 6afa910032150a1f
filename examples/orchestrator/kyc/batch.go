package kyc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// Case is the kind of applicant a generated request stands for.
type Case uint8

// The generated cases and the decision each should get from healthy services.
const (
	CaseGenuine    Case = iota // APPROVED
	CaseUnreadable             // REJECTED: DOCUMENT_UNREADABLE (and FACE_NOT_DETECTED from face match)
	CaseSpoof                  // REJECTED: SPOOF_DETECTED
	CaseMismatch               // REJECTED: FACE_MISMATCH
	CaseExpired                // REJECTED: DOCUMENT_EXPIRED
)

// FramesPerRequest is how many liveness frames a generated request streams.
const FramesPerRequest = 3

// Request builds the verification request of applicant seed for case c, from the stub's
// input builders. The id is "v-<seed>".
func Request(seed int64, c Case) *kycv1.VerifyRequest {
	req := &kycv1.VerifyRequest{
		VerificationId: fmt.Sprintf("v-%d", seed),
		LivenessFrames: stub.Frames(seed, FramesPerRequest, c != CaseSpoof),
		Selfie:         stub.Selfie(seed, true),
		DocumentImage:  stub.DocumentImage(seed, c == CaseUnreadable),
		DocumentType:   kycv1.DocumentType_DOCUMENT_TYPE_PASSPORT,
	}
	switch c {
	case CaseMismatch:
		req.DocumentImage = stub.DocumentImage(seed+1_000_000, false)
	case CaseExpired:
		req.DocumentImage = stub.ExpiredDocumentImage(seed)
	}
	return req
}

// Batch describes a batch run.
type Batch struct {
	// N is the number of verifications.
	N int
	// Concurrency is how many verifications run at once. Below 1 means 1.
	Concurrency int
	// UnreadableRate, SpoofRate, MismatchRate and ExpiredRate are the shares of generated
	// applicants of each rejected case; the rest are genuine.
	UnreadableRate, SpoofRate, MismatchRate, ExpiredRate float64
	// Seed seeds the choice of cases.
	Seed int64
	// Progress, when set, is called after each verification with the number done so far
	// (from one goroutine at a time).
	Progress func(done, total int)
}

// Cases draws the case of every request of the batch.
func (b Batch) Cases() []Case {
	r := rand.New(rand.NewPCG(uint64(b.Seed), 0x6b7963)) // "kyc"
	out := make([]Case, b.N)
	for i := range out {
		u := r.Float64()
		switch {
		case u < b.UnreadableRate:
			out[i] = CaseUnreadable
		case u < b.UnreadableRate+b.SpoofRate:
			out[i] = CaseSpoof
		case u < b.UnreadableRate+b.SpoofRate+b.MismatchRate:
			out[i] = CaseMismatch
		case u < b.UnreadableRate+b.SpoofRate+b.MismatchRate+b.ExpiredRate:
			out[i] = CaseExpired
		}
	}
	return out
}

// Run runs the batch through v and returns every response, in request order. It stops early
// (the remaining responses are nil) when ctx is done.
func (b Batch) Run(ctx context.Context, v *Verifier) []*kycv1.VerifyResponse {
	cases := b.Cases()
	out := make([]*kycv1.VerifyResponse, len(cases))
	workers := max(b.Concurrency, 1)
	var (
		next     atomic.Int64
		done     int
		progress sync.Mutex
		wg       sync.WaitGroup
	)
	for range min(workers, len(cases)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(cases) {
					return
				}
				out[i], _ = v.Verify(ctx, Request(int64(i+1), cases[i]))
				if b.Progress != nil {
					progress.Lock()
					done++
					b.Progress(done, len(cases))
					progress.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// Elapsed returns the wall time of a response.
func Elapsed(r *kycv1.VerifyResponse) time.Duration { return r.GetElapsed().AsDuration() }
