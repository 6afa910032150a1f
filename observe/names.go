package observe

import (
	"strconv"
	"unicode/utf8"
)

// MaxKeptName is the longest service or method name, in bytes, that bulwark keeps past a call,
// and that a sink should: a key of a policy's table of methods, a suite's unlisted names, a
// breaker registry's entry, a metrics label value, a cached span name. A gRPC :path may be as
// long as the peer's header limit allows (16 MiB by default in grpc-go), and a proxy forwards
// the names it was sent, so bounds on how many names are kept would not bound their memory. A
// longer name is served as a name past those bounds is: it keeps nothing and shares what names
// past them share (promobs labels it other). Real full method names are well under 256 bytes.
const MaxKeptName = 1024

// Clip returns name as a log line or a span name should write it: name itself up to
// MaxKeptName bytes, else its first MaxKeptName bytes (cut before a UTF-8 sequence that would
// not fit whole) followed by "…" and how many bytes were left out, so that a name a proxy
// forwards, which may be megabytes long, does not make every line or span that names it as
// long. It allocates only for a longer name.
func Clip(name string) string {
	if len(name) <= MaxKeptName {
		return name
	}
	cut := MaxKeptName
	for i := 1; i < utf8.UTFMax && !utf8.RuneStart(name[cut]); i++ {
		cut--
	}
	return name[:cut] + "…(+" + strconv.Itoa(len(name)-cut) + " bytes)"
}
