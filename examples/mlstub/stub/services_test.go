package stub

import (
	"context"
	"testing"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestServicesAreDeterministic(t *testing.T) {
	e := start(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() (proto.Message, error)
	}{
		{"liveness", func() (proto.Message, error) { return check(ctx, e.live, Frames(7, 5, true)) }},
		{"liveness unmarked", func() (proto.Message, error) {
			return check(ctx, e.live, [][]byte{[]byte("frame a"), []byte("frame b")})
		}},
		{"facematch", func() (proto.Message, error) {
			return e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: Selfie(7, true), DocumentFace: DocumentImage(7, false)})
		}},
		{"facematch unmarked", func() (proto.Message, error) {
			return e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: []byte("me"), DocumentFace: []byte("you")})
		}},
		{"ocr", func() (proto.Message, error) {
			return e.ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: DocumentImage(7, false)})
		}},
		{"ocr unmarked", func() (proto.Message, error) {
			return e.ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: []byte("a scan")})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := tt.call()
			if err != nil {
				t.Fatalf("first call: %v", err)
			}
			second, err := tt.call()
			if err != nil {
				t.Fatalf("second call: %v", err)
			}
			if !proto.Equal(first, second) {
				t.Errorf("answers differ:\n%v\n%v", first, second)
			}
		})
	}
}

func TestLivenessVerdicts(t *testing.T) {
	e := start(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name        string
		frames      [][]byte
		wantVerdict kycv1.LivenessVerdict
	}{
		{"live", Frames(1, 8, true), kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE},
		{"spoof", Frames(1, 8, false), kycv1.LivenessVerdict_LIVENESS_VERDICT_SPOOF},
		{"one live frame", Frames(2, 1, true), kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := check(ctx, e.live, tt.frames)
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetVerdict() != tt.wantVerdict {
				t.Errorf("verdict = %v, want %v (score %v)", resp.GetVerdict(), tt.wantVerdict, resp.GetScore())
			}
			if got := int(resp.GetFramesAnalyzed()); got != len(tt.frames) {
				t.Errorf("frames_analyzed = %d, want %d", got, len(tt.frames))
			}
			if s := resp.GetScore(); s < 0 || s > 1 {
				t.Errorf("score %v outside [0,1]", s)
			}
		})
	}
}

func TestFaceMatchVerdicts(t *testing.T) {
	e := start(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name        string
		selfie, doc []byte
		wantVerdict kycv1.FaceMatchVerdict
	}{
		{"same seed", Selfie(3, true), DocumentImage(3, false), kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH},
		{"same seed, expired document", Selfie(3, true), ExpiredDocumentImage(3), kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH},
		{"other seed", Selfie(3, true), DocumentImage(4, false), kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_NO_MATCH},
		{"identical unmarked", []byte("face"), []byte("face"), kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: tt.selfie, DocumentFace: tt.doc})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetVerdict() != tt.wantVerdict {
				t.Errorf("verdict = %v, want %v (similarity %v)", resp.GetVerdict(), tt.wantVerdict, resp.GetSimilarity())
			}
		})
	}
}

func TestOCRFields(t *testing.T) {
	e := start(t, Config{})
	ctx := context.Background()
	valid, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{
		DocumentImage: DocumentImage(5, false), DocumentType: kycv1.DocumentType_DOCUMENT_TYPE_ID_CARD,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := valid.GetFields()
	if f.GetDocumentType() != kycv1.DocumentType_DOCUMENT_TYPE_ID_CARD {
		t.Errorf("document_type = %v, want the requested ID_CARD", f.GetDocumentType())
	}
	if len(f.GetDocumentNumber()) != 9 || f.GetGivenNames() == "" || f.GetSurname() == "" || f.GetIssuingCountry() != "UTO" {
		t.Errorf("implausible fields: %v", f)
	}
	if f.GetExpiryDate() <= "2030-12-31" || f.GetIssueDate() >= f.GetExpiryDate() || len(f.GetDateOfBirth()) != 10 {
		t.Errorf("dates: birth %s issue %s expiry %s", f.GetDateOfBirth(), f.GetIssueDate(), f.GetExpiryDate())
	}
	if c := valid.GetConfidence(); c < 0.85 || c > 1 {
		t.Errorf("confidence %v", c)
	}

	expired, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: ExpiredDocumentImage(5)})
	if err != nil {
		t.Fatal(err)
	}
	if got := expired.GetFields().GetExpiryDate(); got >= "2020-01-01" {
		t.Errorf("expired document's expiry_date = %s, want before 2020", got)
	}
	if expired.GetFields().GetDocumentType() == kycv1.DocumentType_DOCUMENT_TYPE_UNSPECIFIED {
		t.Error("document_type left unspecified")
	}

	other, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: DocumentImage(6, false)})
	if err != nil {
		t.Fatal(err)
	}
	if other.GetFields().GetDocumentNumber() == f.GetDocumentNumber() {
		t.Error("two seeds read the same document number")
	}
}

func TestBusinessErrors(t *testing.T) {
	e := start(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name       string
		call       func() error
		wantReason string
		wantDomain string
		wantMeta   map[string]string
	}{
		{"unreadable document", func() error {
			_, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: DocumentImage(1, true)})
			return err
		}, ReasonDocumentUnreadable, "ocr.kyc.example", nil},
		{"empty document", func() error {
			_, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{})
			return err
		}, ReasonDocumentUnreadable, "ocr.kyc.example", nil},
		{"selfie without face", func() error {
			_, err := e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: Selfie(1, false), DocumentFace: DocumentImage(1, false)})
			return err
		}, ReasonFaceNotDetected, "facematch.kyc.example", map[string]string{"image": "selfie"}},
		{"unreadable document face", func() error {
			_, err := e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: Selfie(1, true), DocumentFace: DocumentImage(1, true)})
			return err
		}, ReasonFaceNotDetected, "facematch.kyc.example", map[string]string{"image": "document_face"}},
		{"frame without face", func() error {
			frames := append(Frames(1, 3, true), Selfie(1, false))
			_, err := check(ctx, e.live, frames)
			return err
		}, ReasonFaceNotDetected, "liveness.kyc.example", map[string]string{"frame_index": "3"}},
		{"no frames", func() error {
			_, err := check(ctx, e.live, nil)
			return err
		}, ReasonNoFrames, "liveness.kyc.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := status.Code(err); got != grpccodes.InvalidArgument {
				t.Fatalf("code = %v (%v), want InvalidArgument", got, err)
			}
			ei := errorInfo(err)
			if ei == nil {
				t.Fatal("no ErrorInfo detail")
			}
			if ei.GetReason() != tt.wantReason || ei.GetDomain() != tt.wantDomain {
				t.Errorf("ErrorInfo = %s/%s, want %s/%s", ei.GetReason(), ei.GetDomain(), tt.wantReason, tt.wantDomain)
			}
			for k, v := range tt.wantMeta {
				if ei.GetMetadata()[k] != v {
					t.Errorf("metadata[%s] = %q, want %q", k, ei.GetMetadata()[k], v)
				}
			}
		})
	}
	if got := e.s.Requests(MethodExtract, grpccodes.InvalidArgument); got != 2 {
		t.Errorf("Requests(Extract, InvalidArgument) = %d, want 2", got)
	}
}

func TestReadTagsIgnoresForeignBytes(t *testing.T) {
	tests := []struct {
		name string
		img  []byte
		want tags
	}{
		{"empty", nil, tags{}},
		{"plain", []byte("jpeg-ish"), tags{face: true, live: true, readable: true}},
		{"jpeg header, short", []byte{0xff, 0xd8, 0xff, 0xfe, 0x00}, tags{face: true, live: true, readable: true}},
		{"jpeg comment, bad length", []byte{0xff, 0xd8, 0xff, 0xfe, 0xff, 0xff, 'x'}, tags{face: true, live: true, readable: true}},
		{"selfie", Selfie(-3, true), tags{marked: true, kind: "selfie", seed: -3, face: true, live: true, readable: true}},
		{"frame spoof", Frames(9, 1, false)[0], tags{marked: true, kind: "frame", seed: 9, face: true, readable: true}},
		{"document unreadable", DocumentImage(2, true), tags{marked: true, kind: "document", seed: 2, live: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readTags(tt.img); got != tt.want {
				t.Errorf("readTags = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestFramesNegativeCount: Frames has no error to return, and a negative count panicked (make
// with a negative length). Below 1 it returns no frame, as documented.
func TestFramesNegativeCount(t *testing.T) {
	for _, n := range []int{0, -1, -1 << 62} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Frames(1, %d, true): panic %v", n, p)
				}
			}()
			if f := Frames(1, n, true); len(f) != 0 {
				t.Errorf("Frames(1, %d, true) = %d frames, want none", n, len(f))
			}
		}()
	}
}
