// Package depcheck holds the tests of the core's dependency boundary and of the repository's
// layout (TestMakeFuzzRunsEveryTarget: make fuzz runs every fuzz target, in its package).
//
// # Packages
//
// codes, clock, config, section, observe, interceptors and its policy packages depend on the
// standard library, gRPC, protobuf, golang.org/x and YAML only. Redis, Prometheus, zap and
// OpenTelemetry plug in from provider packages (interceptors/ratelimit/redislimit,
// observe/promobs, observe/zapobs, observe/otelobs) through options and factories.
//
// # Modules
//
// Each provider is a module of its own, so that the core's go.mod requires none of their
// dependencies and a user who imports only the core does not find them in its module graph:
// the core's go.mod requires gRPC, protobuf, golang.org/x, YAML and the test-only goleak; its
// module graph (GOWORK=off go list -m all) holds no Prometheus, zap, Redis, go-grpc-middleware,
// otelgrpc or OTel exporter; and a provider's non-test code imports only the internal packages
// of the core listed here, since each ties the provider's releases to the core's.
package depcheck
