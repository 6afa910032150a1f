package kyc

import (
	"context"
	"fmt"
	"math"
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
	// N is the number of verifications. Below 0 means 0: an empty batch.
	N int
	// Concurrency is how many verifications run at once in a closed loop (Rate zero). Below 1
	// means 1.
	Concurrency int
	// Rate, when positive, makes the batch an open loop: Rate verifications start per second,
	// N in all, whether or not earlier ones have ended.
	Rate float64
	// MaxInFlight bounds the verifications running at once in an open loop; an arrival past it
	// is shed. Zero means DefaultInFlightLimit(Rate, DefaultBudget).
	MaxInFlight int
	// UnreadableRate, SpoofRate, MismatchRate and ExpiredRate are the shares of generated
	// applicants of each rejected case; the rest are genuine.
	UnreadableRate, SpoofRate, MismatchRate, ExpiredRate float64
	// Seed seeds the choice of cases.
	Seed int64
	// Progress, when set, is called after each verification with the number done so far
	// (from one goroutine at a time).
	Progress func(done, total int)
	// Decided, when set, is called with the response of each verification that ends
	// ArrivalDone, as it ends and before its Progress (from several goroutines at once): not
	// for one an interruption cancelled. Decision metrics count there, live during the batch.
	Decided func(*kycv1.VerifyResponse)
}

// Cases draws the case of every request of the batch.
func (b Batch) Cases() []Case {
	r := rand.New(rand.NewPCG(uint64(b.Seed), 0x6b7963)) // "kyc"
	out := make([]Case, max(b.N, 0))
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

// Arrival is what became of one arrival of a batch.
type Arrival uint8

// The fates of an arrival.
const (
	// ArrivalNotStarted: the batch was interrupted before the verification started.
	ArrivalNotStarted Arrival = iota
	// ArrivalDone: the verification ended with a decision (APPROVED, REJECTED or FAILED).
	ArrivalDone
	// ArrivalCancelled: the batch was interrupted while the verification ran and it ended
	// undecided, no step having failed before the interruption; it is neither a success nor
	// an infrastructure failure.
	ArrivalCancelled
	// ArrivalShed: open loop only, the verification was not started because MaxInFlight
	// verifications were already running. It counts as lost, like a failure.
	ArrivalShed
)

// Result is what a batch run produced.
type Result struct {
	// Responses holds the response of each arrival, in arrival order; nil unless the arrival is
	// ArrivalDone or ArrivalCancelled.
	Responses []*kycv1.VerifyResponse
	// Arrivals says what became of each arrival.
	Arrivals []Arrival
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// Interrupted reports that ctx ended before the batch did.
	Interrupted bool
	// Rate is the open-loop arrival rate (0: closed loop), InFlightLimit the bound on
	// verifications in flight (the workers of a closed loop), MaxInFlight the most seen at once.
	Rate          float64
	InFlightLimit int
	MaxInFlight   int
}

// Run runs the batch through v and returns every response, in request order. It stops early
// (the remaining responses are nil) when ctx is done. In an open loop (Rate positive) the
// responses of shed arrivals are nil too, and Summarize would count them as not started by an
// interruption: use RunResult and SummarizeResult there.
func (b Batch) Run(ctx context.Context, v *Verifier) []*kycv1.VerifyResponse {
	return b.RunResult(ctx, v).Responses
}

// RunResult runs the batch through v. With Rate zero it is a closed loop: Concurrency workers
// each start the next verification when their last one ends. With Rate positive it is an open
// loop: arrival i starts at i/Rate seconds from the start whether or not earlier ones ended, as
// real traffic does, so an outage shows as failures per second of arrivals rather than as a
// batch that merely ends sooner; an arrival that finds MaxInFlight verifications running is
// shed. When ctx ends, arrivals not yet started are left ArrivalNotStarted and running ones
// that end undecided, no step having failed before ctx ended, are ArrivalCancelled.
func (b Batch) RunResult(ctx context.Context, v *Verifier) Result {
	cases := b.Cases()
	res := Result{
		Responses: make([]*kycv1.VerifyResponse, len(cases)),
		Arrivals:  make([]Arrival, len(cases)),
		Rate:      b.Rate,
	}
	var (
		done     int
		progress sync.Mutex
		wg       sync.WaitGroup
		inFlight atomic.Int64
		maxSeen  atomic.Int64
	)
	enter := func() {
		n := inFlight.Add(1)
		for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
		}
	}
	// verify runs arrival i, counted in flight by enter before.
	verify := func(i int) {
		resp, realFailures := v.verify(ctx, Request(int64(i+1), cases[i]))
		inFlight.Add(-1)
		res.Responses[i] = resp
		res.Arrivals[i] = ArrivalDone
		if ctx.Err() != nil && resp.GetDecision() == kycv1.Decision_DECISION_FAILED && realFailures == 0 {
			res.Arrivals[i] = ArrivalCancelled
		} else if b.Decided != nil {
			b.Decided(resp)
		}
		b.tick(&progress, &done, len(cases))
	}
	start := time.Now()
	if b.Rate > 0 {
		res.InFlightLimit = b.inFlightLimit()
		interval := float64(time.Second) / b.Rate
		t := time.NewTimer(0)
		defer t.Stop()
	arrivals:
		for i := range cases {
			if wait := time.Until(start.Add(arrivalOffset(i, interval))); wait > 0 {
				t.Reset(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					break arrivals
				}
			}
			if ended(ctx) {
				// Also when the timer won a select the end was ready for too: started now,
				// the arrival would count as cut short in flight, though it came after the end.
				break
			}
			if inFlight.Load() >= int64(res.InFlightLimit) {
				res.Arrivals[i] = ArrivalShed
				b.tick(&progress, &done, len(cases))
				continue
			}
			enter()
			wg.Add(1)
			go func() { defer wg.Done(); verify(i) }()
		}
	} else {
		workers := max(b.Concurrency, 1)
		res.InFlightLimit = workers
		var next atomic.Int64
		for range min(workers, len(cases)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !ended(ctx) {
					i := int(next.Add(1)) - 1
					if i >= len(cases) {
						return
					}
					enter()
					verify(i)
				}
			}()
		}
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.MaxInFlight = int(maxSeen.Load())
	for _, a := range res.Arrivals {
		if a == ArrivalNotStarted || a == ArrivalCancelled {
			res.Interrupted = true
			break
		}
	}
	return res
}

// ended reports that ctx is done or its deadline has come: a context's deadline passes before
// its timer cancels it.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// inFlightLimit is MaxInFlight, or by default enough for every arrival of one budget (8 s) to
// be in flight at once, plus a quarter: a verification never outlives its budget, so only
// something beyond the suite (a hung connection) reaches it.
func (b Batch) inFlightLimit() int {
	if b.MaxInFlight > 0 {
		return b.MaxInFlight
	}
	return DefaultInFlightLimit(b.Rate, DefaultBudget)
}

// arrivalOffset is when arrival i of an open loop starts, counted from the start, with interval
// nanoseconds between arrivals: saturated at the longest time.Duration, which a slow enough
// rate overflowed into a negative offset (every arrival at once).
func arrivalOffset(i int, interval float64) time.Duration {
	if i == 0 {
		return 0 // even when interval is +Inf (a rate below 1e-300), where 0·Inf is NaN
	}
	if off := float64(i) * interval; off < math.MaxInt64 {
		return time.Duration(off)
	}
	return math.MaxInt64
}

// DefaultInFlightLimit is the open loop's default bound on verifications in flight at rate
// (per second) for verifications bounded by budget: rate × budget × 1.25, at least 1 and at
// most MaxInFlightLimit (a rate of 1e300 would otherwise overflow the int).
func DefaultInFlightLimit(rate float64, budget time.Duration) int {
	n := math.Ceil(rate * budget.Seconds() * 1.25)
	if !(n < MaxInFlightLimit) { // NaN too
		return MaxInFlightLimit
	}
	return max(1, int(n))
}

// MinRate is the slowest open loop the command accepts, in verifications per second: one every
// 1000 s, so that a batch of any size the command allows ends within a time.Duration.
const MinRate = 0.001

// MaxInFlightLimit caps DefaultInFlightLimit: far more verifications than a process can hold.
const MaxInFlightLimit = 1 << 30

func (b Batch) tick(mu *sync.Mutex, done *int, total int) {
	if b.Progress == nil {
		return
	}
	mu.Lock()
	*done++
	b.Progress(*done, total)
	mu.Unlock()
}

// Elapsed returns the wall time of a response.
func Elapsed(r *kycv1.VerifyResponse) time.Duration { return r.GetElapsed().AsDuration() }
