package stub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Business error reasons and domains, as the stub puts them in google.rpc.ErrorInfo details of
// InvalidArgument errors.
const (
	// ReasonDocumentUnreadable: OCR could not read the document image.
	ReasonDocumentUnreadable = "DOCUMENT_UNREADABLE"
	// ReasonFaceNotDetected: no face in the selfie, the document face or a liveness frame.
	ReasonFaceNotDetected = "FACE_NOT_DETECTED"
	// ReasonNoFrames: a liveness stream closed without a frame.
	ReasonNoFrames = "NO_FRAMES"

	DomainOCR       = "ocr.kyc.example"
	DomainFaceMatch = "facematch.kyc.example"
	DomainLiveness  = "liveness.kyc.example"
)

// Thresholds of the fake models.
const (
	livenessThreshold  = 0.5
	faceMatchThreshold = 0.6
)

func businessError(msg, reason, domain string, md map[string]string) error {
	st := status.New(grpccodes.InvalidArgument, msg)
	st, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: domain, Metadata: md})
	if err != nil {
		return status.Error(grpccodes.Internal, "mlstub: cannot attach error details")
	}
	return st.Err()
}

type livenessServer struct {
	kycv1.UnimplementedLivenessServiceServer
}

// Check scores each frame (live frames high, spoof frames low, unmarked frames by hash) and
// answers the mean. A frame without a face is FACE_NOT_DETECTED; no frame at all is NO_FRAMES.
func (livenessServer) Check(stream kycv1.LivenessService_CheckServer) error {
	var (
		n      uint32
		sum    float64
		noFace = -1
	)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		t := readTags(req.GetImage())
		if !t.face && noFace < 0 {
			noFace = int(req.GetIndex())
		}
		h := unit(hash64(req.GetImage()))
		switch {
		case !t.marked:
			sum += h
		case t.live:
			sum += 0.75 + 0.24*h
		default:
			sum += 0.05 + 0.30*h
		}
		n++
	}
	if n == 0 {
		return businessError("no frame received", ReasonNoFrames, DomainLiveness, nil)
	}
	if noFace >= 0 {
		return businessError("no face in a frame", ReasonFaceNotDetected, DomainLiveness,
			map[string]string{"frame_index": strconv.Itoa(noFace)})
	}
	score := sum / float64(n)
	verdict := kycv1.LivenessVerdict_LIVENESS_VERDICT_SPOOF
	if score >= livenessThreshold {
		verdict = kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE
	}
	return stream.SendAndClose(&kycv1.CheckResponse{Score: float32(score), Verdict: verdict, FramesAnalyzed: n})
}

type faceMatchServer struct {
	kycv1.UnimplementedFaceMatchServiceServer
}

// Compare answers MATCH for two marked images of the same seed (or two identical images) and
// NO_MATCH for different seeds; unmarked pairs get a similarity from their hash.
func (faceMatchServer) Compare(_ context.Context, req *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	sel, doc := readTags(req.GetSelfie()), readTags(req.GetDocumentFace())
	if !sel.face {
		return nil, businessError("no face in the selfie", ReasonFaceNotDetected, DomainFaceMatch,
			map[string]string{"image": "selfie"})
	}
	if !doc.face {
		return nil, businessError("no face in the document", ReasonFaceNotDetected, DomainFaceMatch,
			map[string]string{"image": "document_face"})
	}
	h := unit(hash64(req.GetSelfie(), req.GetDocumentFace()))
	var sim float64
	switch {
	case sel.marked && doc.marked && sel.seed == doc.seed,
		string(req.GetSelfie()) == string(req.GetDocumentFace()):
		sim = 0.80 + 0.19*h
	case sel.marked || doc.marked:
		sim = 0.05 + 0.30*h
	default:
		sim = h
	}
	verdict := kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_NO_MATCH
	if sim >= faceMatchThreshold {
		verdict = kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH
	}
	return &kycv1.CompareResponse{Similarity: float32(sim), Verdict: verdict}, nil
}

type ocrServer struct {
	kycv1.UnimplementedOCRServiceServer
}

// Fictional names for the fake documents.
var (
	givenNames = []string{"ALEX", "SAM", "JORDAN", "CASEY", "RILEY", "MORGAN", "TAYLOR", "ROBIN"}
	surnames   = []string{"SPECIMEN", "SAMPLE", "EXAMPLE", "TESTER", "MODEL", "PATTERN"}
)

// Extract reads fields derived from the image's hash. A marked unreadable (or an empty) image is
// DOCUMENT_UNREADABLE; a marked expired one has an expiry date before 2020, others one five to
// ten years after the current year.
func (ocrServer) Extract(_ context.Context, req *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
	img := req.GetDocumentImage()
	t := readTags(img)
	if !t.readable {
		return nil, businessError("the document image cannot be read", ReasonDocumentUnreadable, DomainOCR, nil)
	}
	h := hash64(img)
	r := rand.New(rand.NewPCG(h, h>>32|1))
	docType := req.GetDocumentType()
	if docType == kycv1.DocumentType_DOCUMENT_TYPE_UNSPECIFIED {
		docType = kycv1.DocumentType(1 + r.IntN(3))
	} else {
		r.IntN(3) // keep the draws that follow independent of the caller's type
	}
	number := fmt.Sprintf("%c%08d", 'A'+rune(r.IntN(26)), r.IntN(100_000_000))
	date := func(y int) string { return fmt.Sprintf("%04d-%02d-%02d", y, 1+r.IntN(12), 1+r.IntN(28)) }
	birth := date(1950 + r.IntN(55))
	// Issued in the last five years, so valid for five to ten more: expiry is judged against
	// the real date (the orchestrator's), so a genuine document must not age into an expired
	// one as the calendar moves. The fields of an image change with the year, not within it.
	issueYear := time.Now().Year() - 4 + r.IntN(5)
	if t.expired {
		issueYear = 2000 + r.IntN(10)
	}
	issue := date(issueYear)
	expiry := date(issueYear + 10)
	fields := &kycv1.DocumentFields{
		DocumentType:   docType,
		DocumentNumber: number,
		GivenNames:     givenNames[r.IntN(len(givenNames))],
		Surname:        surnames[r.IntN(len(surnames))],
		DateOfBirth:    birth,
		IssueDate:      issue,
		ExpiryDate:     expiry,
		IssuingCountry: "UTO",
	}
	return &kycv1.ExtractResponse{Fields: fields, Confidence: float32(0.85 + 0.14*r.Float64())}, nil
}
