package observability_test

import (
	"fmt"
	"testing"
)

// The Attempts by code panel tells the attempts a bulwark policy refused (class rejected: an
// open breaker's CIRCUIT_OPEN, a full bulkhead's BULKHEAD_FULL, read Unavailable or
// ResourceExhausted) from the service's own answers of the same code: while a breaker is open
// nearly every attempt is a refusal that never reached the service, and summed by code alone
// they read as the service failing ever harder (an outage of OCR measured 339 refused
// Unavailable attempts beside 25 the service answered).
func TestAttemptsPanelKeepsRefusalsApart(t *testing.T) {
	promtool(t)
	q := atStep.Replace(panelQuery(t, "Attempts by code"))
	const labels = `service="kyc.v1.OCRService",method="/kyc.v1.OCRService/Extract",code="Unavailable"`
	body := fmt.Sprintf(`  - interval: 15s
    input_series:
      - series: 'bulwark_attempts_total{%[1]s,class="rejected",job="app",instance="a:9090"}'
        values: '0+15x40'
      - series: 'bulwark_attempts_total{%[1]s,class="transient",job="app",instance="a:9090"}'
        values: '0+30x40'
    promql_expr_test:
      - expr: '%[2]s'
        eval_time: 10m
        exp_samples:
          - labels: '{service="kyc.v1.OCRService",code="Unavailable",class="rejected"}'
            value: 1
          - labels: '{service="kyc.v1.OCRService",code="Unavailable",class="transient"}'
            value: 2
`, labels, q)
	if out, err := promtoolTest(t, body); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}
