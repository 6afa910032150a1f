package fallback

import "github.com/bulwarkrpc/bulwark/codes"

// Config says when a fallback answers. What it answers is given in code (a function or a fixed
// message) or, from configuration, as ReplyJSON.
type Config struct {
	// OnClasses are the outcome classes a fallback replaces. Empty with OnCodes empty means
	// transient, throttled, server_fault and rejected: every failure except business errors and
	// caller cancellations. The success class is refused: a success is never replaced.
	OnClasses []codes.Class `yaml:"on_classes" json:"on_classes"`
	// OnCodes are gRPC codes, by canonical name (UNAVAILABLE, DEADLINE_EXCEEDED, ...), that a
	// fallback replaces whatever their class. OK is refused: a success is never replaced.
	OnCodes []string `yaml:"on_codes" json:"on_codes"`
	// ReplyJSON is a fixed reply in protobuf JSON, decoded into the method's response type when
	// the policy is built; a reply that does not fit the response type is an error then.
	ReplyJSON string `yaml:"reply_json" json:"reply_json"`
}
