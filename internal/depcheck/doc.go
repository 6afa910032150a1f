// Package depcheck holds the test of the core's dependency boundary: codes, clock, config,
// section, observe, interceptors and its policy packages depend on the standard library,
// gRPC, protobuf, golang.org/x and YAML only. Redis, Prometheus, zap and OpenTelemetry plug in
// from provider packages (interceptors/ratelimit/redislimit, observe/promobs, observe/zapobs,
// observe/otelobs) through options and factories.
package depcheck
