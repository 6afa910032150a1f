package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestFleetSharedBucketHasOneLimit: services of one configuration that name one fleet-wide
// bucket (the same shared name on the same Redis server and key prefix) with different rates
// or bursts were accepted, and each drew on a Redis key of its own (redislimit's key names
// the limit): not the one bucket the shared name says. They are refused as a shared local
// bucket's are; other servers or prefixes are other buckets, and the same limit is one.
func TestFleetSharedBucketHasOneLimit(t *testing.T) {
	const head = "services:\n  kyc.v1.OCRService:\n    rate_limit: {rate: 10, shared: fleet, redis: {addr: \"r1:6379\"}}\n  kyc.v1.FaceMatchService:\n    rate_limit: "
	for tail, want := range map[string]string{
		`{rate: 20, shared: fleet, redis: {addr: "r1:6379"}}`:                       `t.yaml:3: services."kyc.v1.OCRService".rate_limit.shared: "fleet" is the bucket services."kyc.v1.FaceMatchService" gives rate 20/s burst 20, here rate 10/s burst 10: a shared bucket has one rate and burst`,
		`{rate: 10, burst: 3, shared: fleet, redis: {addr: "r1:6379"}}`:             `t.yaml:3: services."kyc.v1.OCRService".rate_limit.shared: "fleet" is the bucket services."kyc.v1.FaceMatchService" gives rate 10/s burst 3, here rate 10/s burst 10: a shared bucket has one rate and burst`,
		`{rate: 20, shared: fleet, redis: {addr: "r2:6379"}}`:                       "",
		`{rate: 20, shared: fleet, redis: {addr: "r1:6379", key_prefix: "other:"}}`: "",
		`{rate: 10, shared: fleet, redis: {addr: "r1:6379"}}`:                       "",
		`{rate: 20, shared: fleet}`:                                                 "", // a local bucket of the name: another bucket
	} {
		_, _, err := config.Parse("t.yaml", []byte(head+tail+"\n"))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s:\nerr  %s\nwant %s", tail, got, want)
		}
	}
}
