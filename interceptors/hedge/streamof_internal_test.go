package hedge

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"google.golang.org/grpc"
)

// streamOf returns the hedged stream under cs, the stream the policy's Stream interceptor
// returned: the internal/streamend wrapper that watches its end.
func streamOf(t *testing.T, cs grpc.ClientStream) *stream {
	t.Helper()
	w, ok := cs.(*streamend.Stream)
	if !ok {
		t.Fatalf("the stream is a %T, want the streamend wrapper of a hedged stream", cs)
	}
	s, ok := w.ClientStream.(*stream)
	if !ok {
		t.Fatalf("the wrapper holds a %T, want a hedged stream", w.ClientStream)
	}
	return s
}
