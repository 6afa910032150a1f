package stub

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The helpers below build fake images that the stub recognises: a JPEG start-of-image marker,
// a JPEG comment segment holding "mlstub/v1" and key=value tags (kind, seed, face, live,
// readable, expired, index), filler bytes derived from the seed, and an end-of-image marker.
// The stub reads the tags to decide business outcomes; bytes without tags are judged from their
// hash (an empty image is unreadable and shows no face).

const imageMagic = "mlstub/v1"

var (
	jpegSOI = []byte{0xff, 0xd8}
	jpegCOM = []byte{0xff, 0xfe}
	jpegEOI = []byte{0xff, 0xd9}
)

// tags are what a marked image says about itself.
type tags struct {
	marked   bool
	kind     string
	seed     int64
	face     bool
	live     bool
	readable bool
	expired  bool
}

func buildImage(kind string, seed int64, kv map[string]string, order []string) []byte {
	var comment strings.Builder
	fmt.Fprintf(&comment, "%s kind=%s seed=%d", imageMagic, kind, seed)
	for _, k := range order {
		fmt.Fprintf(&comment, " %s=%s", k, kv[k])
	}
	var b bytes.Buffer
	b.Write(jpegSOI)
	b.Write(jpegCOM)
	_ = binary.Write(&b, binary.BigEndian, uint16(comment.Len()+2))
	b.WriteString(comment.String())
	r := rand.New(rand.NewPCG(uint64(seed), uint64(len(kind))))
	filler := make([]byte, 96)
	for i := range filler {
		filler[i] = byte(r.Uint32())
	}
	b.Write(filler)
	b.Write(jpegEOI)
	return b.Bytes()
}

func flag01(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// Selfie returns a fake selfie of the person seed. With face false the stub finds no face in it
// (FACE_NOT_DETECTED). Compare answers MATCH for a selfie and a document built with the same seed
// and NO_MATCH otherwise.
func Selfie(seed int64, face bool) []byte {
	return buildImage("selfie", seed, map[string]string{"face": flag01(face)}, []string{"face"})
}

// DocumentImage returns a fake identity document of the person seed, whose expiry date lies in
// the future. With unreadable true, OCR answers DOCUMENT_UNREADABLE and face match finds no face
// on it. It serves both as OCRService's document_image and as FaceMatchService's document_face.
func DocumentImage(seed int64, unreadable bool) []byte {
	return documentImage(seed, !unreadable, false)
}

// ExpiredDocumentImage returns a readable fake document of the person seed whose expiry date lies
// in the past (before 2020), for the orchestrator's DOCUMENT_EXPIRED rule.
func ExpiredDocumentImage(seed int64) []byte { return documentImage(seed, true, true) }

func documentImage(seed int64, readable, expired bool) []byte {
	return buildImage("document", seed,
		map[string]string{"readable": flag01(readable), "face": flag01(readable), "expired": flag01(expired)},
		[]string{"readable", "face", "expired"})
}

// Frames returns n fake video frames of the person seed. Liveness answers LIVE for frames built
// with live true and SPOOF for frames built with live false. For n below 1 it returns no frame.
func Frames(seed int64, n int, live bool) [][]byte {
	out := make([][]byte, max(n, 0))
	for i := range out {
		out[i] = buildImage("frame", seed, map[string]string{
			"index": strconv.Itoa(i), "face": "1", "live": flag01(live),
		}, []string{"index", "face", "live"})
	}
	return out
}

// readTags reads the tags of a marked image. Unmarked bytes give tags whose flags say what the
// stub assumes of an ordinary image: readable, with a live face, unless it is empty.
func readTags(img []byte) tags {
	nonEmpty := len(img) > 0
	t := tags{face: nonEmpty, live: nonEmpty, readable: nonEmpty}
	rest, ok := bytes.CutPrefix(img, jpegSOI)
	if !ok {
		return t
	}
	rest, ok = bytes.CutPrefix(rest, jpegCOM)
	if !ok || len(rest) < 2 {
		return t
	}
	n := int(binary.BigEndian.Uint16(rest)) - 2
	rest = rest[2:]
	if n < 0 || n > len(rest) {
		return t
	}
	fields := strings.Fields(string(rest[:n]))
	if len(fields) == 0 || fields[0] != imageMagic {
		return t
	}
	t.marked = true
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "kind":
			t.kind = v
		case "seed":
			t.seed, _ = strconv.ParseInt(v, 10, 64)
		case "face":
			t.face = v == "1"
		case "live":
			t.live = v == "1"
		case "readable":
			t.readable = v == "1"
		case "expired":
			t.expired = v == "1"
		}
	}
	return t
}

// hash64 is the FNV-1a hash of the parts, each followed by a separator.
func hash64(parts ...[]byte) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write(p)
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// unit maps a hash to [0,1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
