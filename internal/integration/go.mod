module github.com/bulwarkrpc/bulwark/internal/integration

go 1.26.0

replace github.com/bulwarkrpc/bulwark => ../..

replace github.com/bulwarkrpc/bulwark/observe/promobs => ../../observe/promobs

replace github.com/bulwarkrpc/bulwark/interceptors/ratelimit/redislimit => ../../interceptors/ratelimit/redislimit

require github.com/bulwarkrpc/bulwark v0.0.0-00010101000000-000000000000

require github.com/bulwarkrpc/bulwark/observe/promobs v0.0.0-00010101000000-000000000000

require (
	github.com/bulwarkrpc/bulwark/interceptors/ratelimit/redislimit v0.0.0-00010101000000-000000000000
	github.com/grpc-ecosystem/go-grpc-middleware/v2 v2.3.4
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/client_model v0.6.3
	go.uber.org/goleak v1.3.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-redis/redis_rate/v10 v10.0.1 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261026165753-2ffab32bce7e // indirect
)
