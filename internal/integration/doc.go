// Package integration holds the tests of the core together with the providers and with
// third-party middleware: the suite's allocation ceilings with the Prometheus observer
// (TestSuiteAllocsOverRaw), the bound on chains and series under unbounded method names, the
// suite beside go-grpc-middleware's logging interceptor, and the resolved rate_limit.redis
// section against the limiter redislimit builds from it.
//
// # Why a module of its own
//
// These tests import observe/promobs, interceptors/ratelimit/redislimit, prometheus and
// go-grpc-middleware. A test of a core package would make the core's go.mod require them
// (go mod tidy keeps the dependencies of the module's own tests), and every user of the core
// would find them in its module graph. Here they are the requirements of a module nobody
// imports. The package has no non-test code; it is not part of the API.
package integration
