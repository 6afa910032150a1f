package zapobs_test

import (
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	grpccodes "google.golang.org/grpc/codes"
)

func ExampleNew() {
	logger := zap.NewExample() // JSON to stdout, no timestamps; use your own logger
	sink := zapobs.New(logger)

	// The retry trace of a call to a failing OCR service: the debug attempt lines, a warning
	// before each backoff sleep, an error when no attempt is left. Once its breaker has reported
	// a state, the call's failure lines say it (breaker).
	for _, e := range []observe.Event{
		{Kind: observe.AttemptFinished, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 1, Code: grpccodes.Unavailable, Class: codes.Transient, Duration: 12 * time.Millisecond},
		{Kind: observe.RetryScheduled, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 1, Code: grpccodes.Unavailable, Class: codes.Transient, Delay: 100 * time.Millisecond},
		{Kind: observe.AttemptFinished, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 2, Code: grpccodes.Unavailable, Class: codes.Transient, Duration: 9 * time.Millisecond},
		{Kind: observe.RetriesExhausted, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Attempt: 2, Code: grpccodes.Unavailable, Class: codes.Transient, Reason: observe.ReasonMaxAttempts,
			Duration: 121 * time.Millisecond},
		{Kind: observe.BreakerStateChanged, Service: "kyc.v1.OCRService", From: "closed", To: "open",
			Reason: "consecutive_failures", Delay: time.Second},
		{Kind: observe.Rejected, Service: "kyc.v1.OCRService", Method: "/kyc.v1.OCRService/Extract",
			Policy: observe.PolicyBreaker, Reason: "CIRCUIT_OPEN", Code: grpccodes.Unavailable, Delay: time.Second},
	} {
		sink.Observe(e)
	}
	// Output:
	// {"level":"debug","msg":"attempt finished","service":"kyc.v1.OCRService","method":"/kyc.v1.OCRService/Extract","attempt":1,"code":"Unavailable","class":"transient","duration":"12ms"}
	// {"level":"warn","msg":"retry scheduled","service":"kyc.v1.OCRService","method":"/kyc.v1.OCRService/Extract","attempt":1,"code":"Unavailable","class":"transient","delay":"100ms"}
	// {"level":"debug","msg":"attempt finished","service":"kyc.v1.OCRService","method":"/kyc.v1.OCRService/Extract","attempt":2,"code":"Unavailable","class":"transient","duration":"9ms"}
	// {"level":"error","msg":"retries exhausted","service":"kyc.v1.OCRService","method":"/kyc.v1.OCRService/Extract","attempts":2,"code":"Unavailable","class":"transient","reason":"max_attempts","elapsed":"121ms"}
	// {"level":"warn","msg":"breaker state changed","service":"kyc.v1.OCRService","from":"closed","to":"open","reason":"consecutive_failures","open_for":"1s"}
	// {"level":"warn","msg":"call rejected","service":"kyc.v1.OCRService","method":"/kyc.v1.OCRService/Extract","policy":"breaker","reason":"CIRCUIT_OPEN","code":"Unavailable","retry_after":"1s","breaker":"open"}
}

func ExampleWithLevel() {
	// Keep the attempt trace at Info for a service under investigation.
	sink := zapobs.New(zap.NewExample(zap.IncreaseLevel(zap.InfoLevel)),
		zapobs.WithLevel(observe.AttemptFinished, zap.InfoLevel))
	sink.Observe(observe.Event{Kind: observe.AttemptFinished, Service: "kyc.v1.OCRService",
		Method: "/kyc.v1.OCRService/Extract", Attempt: 1, Code: grpccodes.OK, Class: codes.Success,
		Duration: 40 * time.Millisecond})
	sink.Observe(observe.Event{Kind: observe.CallFinished, Service: "kyc.v1.OCRService",
		Method: "/kyc.v1.OCRService/Extract", Attempt: 1, Code: grpccodes.OK, Class: codes.Success,
		Duration: 40 * time.Millisecond}) // still Debug: not written
	// Output:
	// {"level":"info","msg":"attempt finished","service":"kyc.v1.OCRService","method":"/kyc.v1.OCRService/Extract","attempt":1,"code":"OK","class":"success","duration":"40ms"}
}
